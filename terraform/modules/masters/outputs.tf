output "instance_ids" {
  description = "IDs of the master instances (load balancer targets)."
  value       = aws_instance.this[*].id
}

output "private_ips" {
  description = "Private addresses of the masters (ansible inventory, ZooKeeper ensemble)."
  value       = aws_instance.this[*].private_ip
}

output "instance_ids" {
  description = "IDs of the Consul servers."
  value       = aws_instance.this[*].id
}

output "private_ips" {
  description = "Private addresses of the Consul servers."
  value       = aws_instance.this[*].private_ip
}

output "retry_join" {
  description = "Consul retry_join string for the agents (ansible consul_retry_join)."
  value       = "provider=aws tag_key=consul-cluster tag_value=${var.cluster_tag_value}"
}

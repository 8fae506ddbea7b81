output "instance_id" {
  description = "ID of the Jenkins instance."
  value       = aws_instance.this.id
}

output "private_ip" {
  description = "Private address of the Jenkins node."
  value       = aws_instance.this.private_ip
}

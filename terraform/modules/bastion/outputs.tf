output "instance_id" {
  description = "ID of the bastion instance."
  value       = aws_instance.this.id
}

output "public_ip" {
  description = "Elastic IP of the bastion (OpenVPN endpoint, SSH jump host)."
  value       = aws_eip.this.public_ip
}

output "private_ip" {
  description = "Private address of the bastion (VPN clients appear with it inside the VPC)."
  value       = aws_instance.this.private_ip
}

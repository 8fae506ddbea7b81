output "vpc_id" {
  description = "Staging VPC."
  value       = module.network.vpc_id
}

output "load_balancer_dns_name" {
  description = "Point *.staging.mozilla.community here."
  value       = module.load_balancer.dns_name
}

output "bastion_public_ip" {
  description = "OpenVPN endpoint and SSH jump host of staging."
  value       = module.bastion.public_ip
}

output "master_private_ips" {
  description = "Mesos masters (ansible inventory group mesos_masters)."
  value       = module.masters.private_ips
}

output "vpc_peering_connection_id" {
  description = "Peering with production (shared Consul servers and RDS)."
  value       = module.vpc_peering.peering_connection_id
}

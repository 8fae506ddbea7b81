output "vpc_id" {
  description = "Production VPC (staging peers with it: staging's production_vpc_id)."
  value       = module.network.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR block of the production VPC (staging's production_vpc_cidr_block)."
  value       = module.network.vpc_cidr_block
}

output "private_route_table_ids" {
  description = "Private route tables (staging's production_private_route_table_ids)."
  value       = module.network.private_route_table_ids
}

output "load_balancer_dns_name" {
  description = "Point *.production.mozilla.community and the custom domains here."
  value       = module.load_balancer.dns_name
}

output "bastion_public_ip" {
  description = "OpenVPN endpoint and SSH jump host."
  value       = module.bastion.public_ip
}

output "master_private_ips" {
  description = "Mesos masters (ansible inventory group mesos_masters)."
  value       = module.masters.private_ips
}

output "consul_server_private_ips" {
  description = "Consul servers (ansible inventory group consul_servers)."
  value       = module.consul_servers.private_ips
}

output "consul_retry_join" {
  description = "retry_join string for every Consul agent, staging included (ansible consul_retry_join)."
  value       = module.consul_servers.retry_join
}

output "jenkins_private_ip" {
  description = "Admin Jenkins node."
  value       = module.jenkins.private_ip
}

output "postgres_endpoint" {
  description = "Shared PostgreSQL (Discourse)."
  value       = module.postgres.endpoint
}

output "mysql_endpoint" {
  description = "Shared MySQL (WordPress: WORDPRESS_DB_HOST)."
  value       = module.mysql.endpoint
}

output "lb_security_group_id" {
  description = "Security group of the network load balancer."
  value       = aws_security_group.lb.id
}

output "bastion_security_group_id" {
  description = "Security group of the bastion."
  value       = aws_security_group.bastion.id
}

output "masters_security_group_id" {
  description = "Security group of the Mesos masters."
  value       = aws_security_group.masters.id
}

output "agents_security_group_id" {
  description = "Security group of the Mesos agents."
  value       = aws_security_group.agents.id
}

output "consul_agent_security_group_id" {
  description = "Security group carried by every instance running a Consul agent."
  value       = aws_security_group.consul_agent.id
}

output "consul_servers_security_group_id" {
  description = "Security group of the Consul servers."
  value       = aws_security_group.consul_servers.id
}

output "rds_security_group_id" {
  description = "Security group of the RDS instances."
  value       = aws_security_group.rds.id
}

output "jenkins_security_group_id" {
  description = "Security group of the Jenkins node."
  value       = aws_security_group.jenkins.id
}

# Security groups, least privilege. One group per role plus `consul_agent`, carried by every
# instance running a Consul agent. Only the load balancer (HTTP/HTTPS and the TCP app ports)
# and the bastion's OpenVPN port are open to the internet; SSH reaches the bastion from the
# admin networks only, and every other instance from the bastion only; Consul, ZooKeeper,
# Mesos and Marathon ports are reachable from inside the VPC (and the peered staging subnets
# for Consul) only; RDS only from the Mesos agents.

locals {
  protocols = {
    tcp = "tcp"
    udp = "udp"
  }
}

resource "aws_security_group" "lb" {
  name        = "${var.name}-lb"
  description = "Network load balancer in front of HAProxy on the masters"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-lb" })
}

resource "aws_security_group" "bastion" {
  name        = "${var.name}-bastion"
  description = "Bastion: OpenVPN and SSH entry point"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-bastion" })
}

resource "aws_security_group" "masters" {
  name        = "${var.name}-masters"
  description = "Mesos masters: ZooKeeper, Mesos master, Marathon, HAProxy, paas-router"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-masters" })
}

resource "aws_security_group" "agents" {
  name        = "${var.name}-agents"
  description = "Mesos agents running the Docker tasks"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-agents" })
}

resource "aws_security_group" "consul_agent" {
  name        = "${var.name}-consul-agent"
  description = "Every instance running a Consul agent (LAN gossip)"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-consul-agent" })
}

resource "aws_security_group" "consul_servers" {
  name        = "${var.name}-consul-servers"
  description = "Consul servers (shared by staging and production)"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-consul-servers" })
}

resource "aws_security_group" "rds" {
  name        = "${var.name}-rds"
  description = "RDS PostgreSQL and MySQL, reachable from the Mesos agents only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-rds" })
}

resource "aws_security_group" "jenkins" {
  name        = "${var.name}-jenkins"
  description = "Admin Jenkins node (deploys to Marathon)"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-jenkins" })
}

# --- Public entry points ---------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "lb_http" {
  security_group_id = aws_security_group.lb.id
  description       = "HTTP from the internet"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "lb_https" {
  security_group_id = aws_security_group.lb.id
  description       = "HTTPS from the internet"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "lb_tcp_apps" {
  for_each = toset([for p in var.tcp_app_ports : tostring(p)])

  security_group_id = aws_security_group.lb.id
  description       = "TCP app port ${each.value} from the internet"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "bastion_openvpn" {
  security_group_id = aws_security_group.bastion.id
  description       = "OpenVPN from the internet (certificate authentication)"
  ip_protocol       = "udp"
  from_port         = var.openvpn_port
  to_port           = var.openvpn_port
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "bastion_ssh" {
  for_each = toset(var.admin_cidr_blocks)

  security_group_id = aws_security_group.bastion.id
  description       = "SSH from an admin network"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = each.value
}

# --- SSH: from the bastion only ---------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "ssh_from_bastion" {
  for_each = {
    masters        = aws_security_group.masters.id
    agents         = aws_security_group.agents.id
    consul_servers = aws_security_group.consul_servers.id
    jenkins        = aws_security_group.jenkins.id
  }

  security_group_id            = each.value
  description                  = "SSH from the bastion"
  ip_protocol                  = "tcp"
  from_port                    = 22
  to_port                      = 22
  referenced_security_group_id = aws_security_group.bastion.id
}

# --- Masters ----------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "masters_http_from_lb" {
  for_each = toset(["80", "443"])

  security_group_id            = aws_security_group.masters.id
  description                  = "HAProxy port ${each.value} from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  referenced_security_group_id = aws_security_group.lb.id
}

resource "aws_vpc_security_group_ingress_rule" "masters_tcp_apps_from_lb" {
  for_each = toset([for p in var.tcp_app_ports : tostring(p)])

  security_group_id            = aws_security_group.masters.id
  description                  = "HAProxy TCP app port ${each.value} from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  referenced_security_group_id = aws_security_group.lb.id
}

resource "aws_vpc_security_group_ingress_rule" "masters_zookeeper_peers" {
  for_each = toset(["2181", "2888", "3888"])

  security_group_id            = aws_security_group.masters.id
  description                  = "ZooKeeper ${each.value} between masters"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  referenced_security_group_id = aws_security_group.masters.id
}

resource "aws_vpc_security_group_ingress_rule" "masters_zookeeper_from_agents" {
  security_group_id            = aws_security_group.masters.id
  description                  = "ZooKeeper client port from the agents (master detection, mesos-consul)"
  ip_protocol                  = "tcp"
  from_port                    = 2181
  to_port                      = 2181
  referenced_security_group_id = aws_security_group.agents.id
}

resource "aws_vpc_security_group_ingress_rule" "masters_mesos" {
  for_each = {
    masters = aws_security_group.masters.id
    agents  = aws_security_group.agents.id
    bastion = aws_security_group.bastion.id
  }

  security_group_id            = aws_security_group.masters.id
  description                  = "Mesos master API from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 5050
  to_port                      = 5050
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "masters_marathon" {
  for_each = {
    masters = aws_security_group.masters.id
    agents  = aws_security_group.agents.id
    bastion = aws_security_group.bastion.id
    jenkins = aws_security_group.jenkins.id
  }

  security_group_id            = aws_security_group.masters.id
  description                  = "Marathon API from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "masters_admin_from_bastion" {
  for_each = toset(["8404", "9107"])

  security_group_id            = aws_security_group.masters.id
  description                  = "HAProxy stats / paas-router status ${each.value} from the bastion (VPN users)"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  referenced_security_group_id = aws_security_group.bastion.id
}

# --- Agents -----------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "agents_mesos_from_masters" {
  security_group_id            = aws_security_group.agents.id
  description                  = "Mesos agent API from the masters"
  ip_protocol                  = "tcp"
  from_port                    = 5051
  to_port                      = 5051
  referenced_security_group_id = aws_security_group.masters.id
}

resource "aws_vpc_security_group_ingress_rule" "agents_tasks_from_masters" {
  security_group_id            = aws_security_group.agents.id
  description                  = "Task host ports from HAProxy on the masters"
  ip_protocol                  = "tcp"
  from_port                    = var.mesos_task_port_range.from
  to_port                      = var.mesos_task_port_range.to
  referenced_security_group_id = aws_security_group.masters.id
}

# --- Consul -----------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "consul_lan_gossip" {
  for_each = local.protocols

  security_group_id            = aws_security_group.consul_agent.id
  description                  = "Consul LAN gossip (${each.value}) between agents"
  ip_protocol                  = each.value
  from_port                    = 8301
  to_port                      = 8301
  referenced_security_group_id = aws_security_group.consul_agent.id
}

resource "aws_vpc_security_group_ingress_rule" "consul_lan_gossip_from_peer" {
  for_each = { for pair in setproduct(var.peer_cidr_blocks, keys(local.protocols)) : "${pair[0]}-${pair[1]}" => { cidr = pair[0], protocol = pair[1] } }

  security_group_id = aws_security_group.consul_agent.id
  description       = "Consul LAN gossip (${each.value.protocol}) from the peered environment"
  ip_protocol       = each.value.protocol
  from_port         = 8301
  to_port           = 8301
  cidr_ipv4         = each.value.cidr
}

resource "aws_vpc_security_group_ingress_rule" "consul_server_rpc" {
  count = var.consul_servers_enabled ? 1 : 0

  security_group_id            = aws_security_group.consul_servers.id
  description                  = "Consul server RPC from the agents"
  ip_protocol                  = "tcp"
  from_port                    = 8300
  to_port                      = 8300
  referenced_security_group_id = aws_security_group.consul_agent.id
}

resource "aws_vpc_security_group_ingress_rule" "consul_server_rpc_from_peer" {
  for_each = var.consul_servers_enabled ? toset(var.peer_cidr_blocks) : toset([])

  security_group_id = aws_security_group.consul_servers.id
  description       = "Consul server RPC from the peered environment"
  ip_protocol       = "tcp"
  from_port         = 8300
  to_port           = 8300
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "consul_server_wan" {
  for_each = var.consul_servers_enabled ? local.protocols : {}

  security_group_id            = aws_security_group.consul_servers.id
  description                  = "Consul WAN gossip (${each.value}) between servers"
  ip_protocol                  = each.value
  from_port                    = 8302
  to_port                      = 8302
  referenced_security_group_id = aws_security_group.consul_servers.id
}

resource "aws_vpc_security_group_ingress_rule" "consul_server_api_from_bastion" {
  count = var.consul_servers_enabled ? 1 : 0

  security_group_id            = aws_security_group.consul_servers.id
  description                  = "Consul HTTPS API and UI from the bastion (VPN users)"
  ip_protocol                  = "tcp"
  from_port                    = 8501
  to_port                      = 8501
  referenced_security_group_id = aws_security_group.bastion.id
}

# --- RDS: from the Mesos agents only ----------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "rds_from_agents" {
  for_each = var.rds_enabled ? toset(["5432", "3306"]) : toset([])

  security_group_id            = aws_security_group.rds.id
  description                  = "Database port ${each.value} from the Mesos agents"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  referenced_security_group_id = aws_security_group.agents.id
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_peer_agents" {
  for_each = var.rds_enabled ? { for pair in setproduct(var.peer_cidr_blocks, ["5432", "3306"]) : "${pair[0]}-${pair[1]}" => { cidr = pair[0], port = pair[1] } } : {}

  security_group_id = aws_security_group.rds.id
  description       = "Database port ${each.value.port} from the peered environment's agents"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value.port)
  to_port           = tonumber(each.value.port)
  cidr_ipv4         = each.value.cidr
}

# --- Jenkins ----------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "jenkins_ui_from_bastion" {
  security_group_id            = aws_security_group.jenkins.id
  description                  = "Jenkins UI from the bastion (VPN users)"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.bastion.id
}

# --- Egress -----------------------------------------------------------------------------
# Instances reach the internet through the NAT gateways (packages, images, Vault). RDS has
# no egress at all.

resource "aws_vpc_security_group_egress_rule" "all" {
  for_each = {
    lb             = aws_security_group.lb.id
    bastion        = aws_security_group.bastion.id
    masters        = aws_security_group.masters.id
    agents         = aws_security_group.agents.id
    consul_agent   = aws_security_group.consul_agent.id
    consul_servers = aws_security_group.consul_servers.id
    jenkins        = aws_security_group.jenkins.id
  }

  security_group_id = each.value
  description       = "All outbound traffic"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

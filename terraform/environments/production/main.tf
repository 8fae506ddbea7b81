# Production: the whole platform, plus what staging shares (Consul servers, RDS).

data "aws_ami" "debian" {
  most_recent = true
  owners      = ["136693071363"] # Debian's official AWS account

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

locals {
  name   = "paas-production"
  ami_id = coalesce(var.ami_id, data.aws_ami.debian.id)
}

module "network" {
  source = "../../modules/network"

  name                 = local.name
  cidr_block           = var.vpc_cidr_block
  availability_zones   = var.availability_zones
  public_subnet_cidrs  = var.public_subnet_cidrs
  private_subnet_cidrs = var.private_subnet_cidrs
  single_nat_gateway   = false
}

module "security_groups" {
  source = "../../modules/security_groups"

  name                   = local.name
  vpc_id                 = module.network.vpc_id
  admin_cidr_blocks      = var.admin_cidr_blocks
  tcp_app_ports          = var.tcp_app_ports
  peer_cidr_blocks       = var.staging_private_subnet_cidrs
  consul_servers_enabled = true
  rds_enabled            = true
}

module "iam" {
  source = "../../modules/iam"

  name = local.name
}

module "bastion" {
  source = "../../modules/bastion"

  name                 = "${local.name}-bastion"
  ami_id               = local.ami_id
  subnet_id            = module.network.public_subnet_ids[0]
  security_group_ids   = [module.security_groups.bastion_security_group_id, module.security_groups.consul_agent_security_group_id]
  iam_instance_profile = module.iam.instance_profile_names["bastion"]
  key_name             = var.key_name
  vpc_cidr_block       = module.network.vpc_cidr_block
}

module "masters" {
  source = "../../modules/masters"

  name                 = "${local.name}-master"
  instance_count       = 3
  ami_id               = local.ami_id
  instance_type        = var.master_instance_type
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.security_groups.masters_security_group_id, module.security_groups.consul_agent_security_group_id]
  iam_instance_profile = module.iam.instance_profile_names["masters"]
  key_name             = var.key_name
}

module "agents" {
  source = "../../modules/agents"

  name                 = "${local.name}-agent"
  ami_id               = local.ami_id
  instance_type        = var.agent_instance_type
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.security_groups.agents_security_group_id, module.security_groups.consul_agent_security_group_id]
  iam_instance_profile = module.iam.instance_profile_names["agents"]
  key_name             = var.key_name
  min_size             = var.agent_count.min
  desired_capacity     = var.agent_count.desired
  max_size             = var.agent_count.max
}

module "consul_servers" {
  source = "../../modules/consul_servers"

  name                 = "paas-consul"
  instance_count       = 3
  cluster_tag_value    = "paas"
  ami_id               = local.ami_id
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.security_groups.consul_servers_security_group_id, module.security_groups.consul_agent_security_group_id]
  iam_instance_profile = module.iam.instance_profile_names["consul"]
  key_name             = var.key_name
}

module "jenkins" {
  source = "../../modules/jenkins"

  name                 = "paas-jenkins"
  ami_id               = local.ami_id
  subnet_id            = module.network.private_subnet_ids[0]
  security_group_ids   = [module.security_groups.jenkins_security_group_id, module.security_groups.consul_agent_security_group_id]
  iam_instance_profile = module.iam.instance_profile_names["jenkins"]
  key_name             = var.key_name
}

module "postgres" {
  source = "../../modules/rds"

  identifier              = "paas-postgres"
  engine                  = "postgres"
  engine_version          = var.postgres_engine_version
  parameter_group_family  = "postgres16"
  instance_class          = var.rds_instance_class
  subnet_ids              = module.network.private_subnet_ids
  security_group_ids      = [module.security_groups.rds_security_group_id]
  multi_az                = true
  backup_retention_period = var.rds_backup_retention_days
}

module "mysql" {
  source = "../../modules/rds"

  identifier              = "paas-mysql"
  engine                  = "mysql"
  engine_version          = var.mysql_engine_version
  parameter_group_family  = "mysql8.0"
  instance_class          = var.rds_instance_class
  subnet_ids              = module.network.private_subnet_ids
  security_group_ids      = [module.security_groups.rds_security_group_id]
  multi_az                = true
  backup_retention_period = var.rds_backup_retention_days
}

module "load_balancer" {
  source = "../../modules/load_balancer"

  name                = local.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.public_subnet_ids
  security_group_ids  = [module.security_groups.lb_security_group_id]
  target_instance_ids = module.masters.instance_ids
  tcp_app_ports       = var.tcp_app_ports
}

# Staging: its own VPC, masters, agents, bastion and load balancer. Consul servers and RDS
# are production's (shared), reached over a VPC peering. The production values can come
# from variables (terraform.tfvars) or, once the state is remote, from production's state:
#
# data "terraform_remote_state" "production" {
#   backend = "s3"
#   config = {
#     bucket = "paas-terraform-state"
#     key    = "production/terraform.tfstate"
#     region = "us-east-1"
#   }
# }
# ... production_vpc_id = data.terraform_remote_state.production.outputs.vpc_id

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
  name   = "paas-staging"
  ami_id = coalesce(var.ami_id, data.aws_ami.debian.id)
}

module "network" {
  source = "../../modules/network"

  name                 = local.name
  cidr_block           = var.vpc_cidr_block
  availability_zones   = var.availability_zones
  public_subnet_cidrs  = var.public_subnet_cidrs
  private_subnet_cidrs = var.private_subnet_cidrs
  single_nat_gateway   = true
}

module "security_groups" {
  source = "../../modules/security_groups"

  name                   = local.name
  vpc_id                 = module.network.vpc_id
  admin_cidr_blocks      = var.admin_cidr_blocks
  tcp_app_ports          = var.tcp_app_ports
  peer_cidr_blocks       = [var.production_vpc_cidr_block]
  consul_servers_enabled = false
  rds_enabled            = false
}

module "iam" {
  source = "../../modules/iam"

  name = local.name
}

module "vpc_peering" {
  source = "../../modules/vpc_peering"

  name                      = "paas-staging-to-production"
  requester_vpc_id          = module.network.vpc_id
  requester_cidr_block      = module.network.vpc_cidr_block
  requester_route_table_ids = module.network.private_route_table_ids
  accepter_vpc_id           = var.production_vpc_id
  accepter_cidr_block       = var.production_vpc_cidr_block
  accepter_route_table_ids  = var.production_private_route_table_ids
}

module "bastion" {
  source = "../../modules/bastion"

  name                 = "${local.name}-bastion"
  ami_id               = local.ami_id
  instance_type        = "t3.micro"
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
  instance_type        = "t3.large"
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.security_groups.masters_security_group_id, module.security_groups.consul_agent_security_group_id]
  iam_instance_profile = module.iam.instance_profile_names["masters"]
  key_name             = var.key_name
}

module "agents" {
  source = "../../modules/agents"

  name                 = "${local.name}-agent"
  ami_id               = local.ami_id
  instance_type        = "t3.xlarge"
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.security_groups.agents_security_group_id, module.security_groups.consul_agent_security_group_id]
  iam_instance_profile = module.iam.instance_profile_names["agents"]
  key_name             = var.key_name
  min_size             = var.agent_count.min
  desired_capacity     = var.agent_count.desired
  max_size             = var.agent_count.max
}

module "load_balancer" {
  source = "../../modules/load_balancer"

  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.public_subnet_ids
  security_group_ids         = [module.security_groups.lb_security_group_id]
  target_instance_ids        = module.masters.instance_ids
  tcp_app_ports              = var.tcp_app_ports
  enable_deletion_protection = false
}

variable "region" {
  description = "AWS region of the environment (the same as production: VPC peering and shared Consul/RDS)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "Availability zones used."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "vpc_cidr_block" {
  description = "CIDR block of the staging VPC (must not overlap production's)."
  type        = string
  default     = "10.20.0.0/16"
}

variable "public_subnet_cidrs" {
  description = "Public subnets, one per availability zone."
  type        = list(string)
  default     = ["10.20.0.0/24", "10.20.1.0/24", "10.20.2.0/24"]
}

variable "private_subnet_cidrs" {
  description = "Private subnets, one per availability zone (production's staging_private_subnet_cidrs must list them)."
  type        = list(string)
  default     = ["10.20.10.0/24", "10.20.11.0/24", "10.20.12.0/24"]
}

variable "admin_cidr_blocks" {
  description = "Operator networks allowed to SSH to the bastion (no default: must be set, never 0.0.0.0/0)."
  type        = list(string)
}

variable "production_vpc_id" {
  description = "Production VPC to peer with (production output vpc_id)."
  type        = string
}

variable "production_vpc_cidr_block" {
  description = "CIDR block of the production VPC (production output vpc_cidr_block)."
  type        = string
}

variable "production_private_route_table_ids" {
  description = "Production private route tables that get a route back to staging (production output private_route_table_ids)."
  type        = list(string)
}

variable "tcp_app_ports" {
  description = "Public TCP app ports (router.port of TCP apps)."
  type        = list(number)
  default     = [10001]
}

variable "ami_id" {
  description = "AMI for every instance; null = the latest official Debian 12 AMI."
  type        = string
  default     = null
}

variable "key_name" {
  description = "EC2 key pair installed on the instances (null: Session Manager only)."
  type        = string
  default     = null
}

variable "agent_count" {
  description = "Minimum, desired and maximum number of Mesos agents."
  type        = object({ min = number, desired = number, max = number })
  default     = { min = 1, desired = 2, max = 4 }
}

variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "Availability zones used (three: one master and one Consul server in each)."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "vpc_cidr_block" {
  description = "CIDR block of the production VPC (must not overlap staging's: they are peered)."
  type        = string
  default     = "10.10.0.0/16"
}

variable "public_subnet_cidrs" {
  description = "Public subnets, one per availability zone."
  type        = list(string)
  default     = ["10.10.0.0/24", "10.10.1.0/24", "10.10.2.0/24"]
}

variable "private_subnet_cidrs" {
  description = "Private subnets, one per availability zone."
  type        = list(string)
  default     = ["10.10.10.0/24", "10.10.11.0/24", "10.10.12.0/24"]
}

variable "admin_cidr_blocks" {
  description = "Operator networks allowed to SSH to the bastion (no default: must be set, never 0.0.0.0/0)."
  type        = list(string)
}

variable "staging_private_subnet_cidrs" {
  description = "Staging's private subnets, allowed to the shared Consul servers and RDS over the peering (empty: no staging)."
  type        = list(string)
  default     = ["10.20.10.0/24", "10.20.11.0/24", "10.20.12.0/24"]
}

variable "tcp_app_ports" {
  description = "Public TCP app ports (router.port of TCP apps, e.g. the IRC bouncer on 10001)."
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

variable "master_instance_type" {
  description = "Instance type of the Mesos masters."
  type        = string
  default     = "m6i.large"
}

variable "agent_instance_type" {
  description = "Instance type of the Mesos agents."
  type        = string
  default     = "m6i.xlarge"
}

variable "agent_count" {
  description = "Minimum, desired and maximum number of Mesos agents."
  type        = object({ min = number, desired = number, max = number })
  default     = { min = 3, desired = 4, max = 12 }
}

variable "postgres_engine_version" {
  description = "PostgreSQL version of the shared RDS instance (Discourse)."
  type        = string
  default     = "16.4"
}

variable "mysql_engine_version" {
  description = "MySQL version of the shared RDS instance (WordPress)."
  type        = string
  default     = "8.0.39"
}

variable "rds_instance_class" {
  description = "Instance class of both RDS instances."
  type        = string
  default     = "db.m6g.large"
}

variable "rds_backup_retention_days" {
  description = "Days of automated RDS backups (1-35)."
  type        = number
  default     = 14
}

variable "name" {
  description = "Name prefix of every resource (e.g. paas-production)."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR block."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread the subnets over (one public and one private subnet per zone)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Use at least two availability zones."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets (load balancer, bastion, NAT gateways), one per availability zone."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets (masters, agents, Consul, RDS, Jenkins), one per availability zone."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the whole VPC (cheaper, for staging) instead of one per availability zone."
  type        = bool
  default     = false
}

variable "flow_logs_retention_days" {
  description = "Retention of the VPC flow logs in CloudWatch Logs, in days (0 disables flow logs)."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

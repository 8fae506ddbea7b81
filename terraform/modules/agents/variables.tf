variable "name" {
  description = "Name prefix of the agent launch template and auto scaling group (e.g. paas-production-agent)."
  type        = string
}

variable "ami_id" {
  description = "AMI of the agents (Debian 12)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "m6i.xlarge"
}

variable "subnet_ids" {
  description = "Private subnets the auto scaling group spreads the agents over."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the agents (agents and consul_agent)."
  type        = list(string)
}

variable "iam_instance_profile" {
  description = "Instance profile name of the agents."
  type        = string
}

variable "key_name" {
  description = "EC2 key pair for SSH through the bastion (null: none)."
  type        = string
  default     = null
}

variable "min_size" {
  description = "Minimum number of agents."
  type        = number
  default     = 2
}

variable "max_size" {
  description = "Maximum number of agents."
  type        = number
  default     = 10
}

variable "desired_capacity" {
  description = "Number of agents to run now."
  type        = number
  default     = 3
}

variable "root_volume_size" {
  description = "Size of the encrypted root volume in GiB (Docker images, task sandboxes)."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags added to every resource and propagated to the instances."
  type        = map(string)
  default     = {}
}

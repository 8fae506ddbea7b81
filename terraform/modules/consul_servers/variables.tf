variable "name" {
  description = "Name prefix of the Consul server instances (e.g. paas-consul)."
  type        = string
}

variable "instance_count" {
  description = "Number of Consul servers (3 or 5)."
  type        = number
  default     = 3

  validation {
    condition     = contains([3, 5], var.instance_count)
    error_message = "Run 3 or 5 Consul servers."
  }
}

variable "cluster_tag_value" {
  description = "Value of the consul-cluster tag the agents auto-join on (retry_join = \"provider=aws tag_key=consul-cluster tag_value=<this>\")."
  type        = string
  default     = "paas"
}

variable "ami_id" {
  description = "AMI of the Consul servers (Debian 12)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "t3.medium"
}

variable "subnet_ids" {
  description = "Private subnets; servers are spread over them round-robin."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the servers (consul_servers and consul_agent)."
  type        = list(string)
}

variable "iam_instance_profile" {
  description = "Instance profile name (needs ec2:DescribeInstances for auto-join)."
  type        = string
}

variable "key_name" {
  description = "EC2 key pair for SSH through the bastion (null: none)."
  type        = string
  default     = null
}

variable "data_volume_size" {
  description = "Size of the encrypted root volume in GiB (Raft data)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

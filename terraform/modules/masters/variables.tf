variable "name" {
  description = "Name prefix of the master instances (e.g. paas-production-master)."
  type        = string
}

variable "instance_count" {
  description = "Number of Mesos masters: odd (3 or 5), they also form the ZooKeeper ensemble."
  type        = number
  default     = 3

  validation {
    condition     = var.instance_count % 2 == 1
    error_message = "Use an odd number of masters (ZooKeeper and the Mesos replicated log need a majority)."
  }
}

variable "ami_id" {
  description = "AMI of the masters (Debian 12)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "m6i.large"
}

variable "subnet_ids" {
  description = "Private subnets; masters are spread over them round-robin (one per availability zone)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the masters (masters and consul_agent)."
  type        = list(string)
}

variable "iam_instance_profile" {
  description = "Instance profile name of the masters."
  type        = string
}

variable "key_name" {
  description = "EC2 key pair for SSH through the bastion (null: none)."
  type        = string
  default     = null
}

variable "root_volume_size" {
  description = "Size of the encrypted root volume in GiB (ZooKeeper and the Mesos replicated log live there)."
  type        = number
  default     = 50
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

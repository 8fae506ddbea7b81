variable "name" {
  description = "Name of the Jenkins instance (e.g. paas-jenkins)."
  type        = string
}

variable "ami_id" {
  description = "AMI of the Jenkins node (Debian 12)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "t3.large"
}

variable "subnet_id" {
  description = "Private subnet of the Jenkins node."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups (jenkins and consul_agent)."
  type        = list(string)
}

variable "iam_instance_profile" {
  description = "Instance profile name of the Jenkins node."
  type        = string
}

variable "key_name" {
  description = "EC2 key pair for SSH through the bastion (null: none)."
  type        = string
  default     = null
}

variable "data_volume_size" {
  description = "Size in GiB of the encrypted EBS volume for JENKINS_HOME."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Name prefix of the IAM roles and instance profiles (e.g. paas-production)."
  type        = string
}

variable "enable_ssm" {
  description = "Attach AmazonSSMManagedInstanceCore so instances can be reached with Session Manager (no SSH needed)."
  type        = bool
  default     = true
}

variable "ecr_repository_arns" {
  description = "ECR repositories the Mesos agents may pull images from (empty: no ECR access)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

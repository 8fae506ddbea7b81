variable "identifier" {
  description = "RDS instance identifier (e.g. paas-postgres)."
  type        = string
}

variable "engine" {
  description = "Database engine: postgres or mysql."
  type        = string

  validation {
    condition     = contains(["postgres", "mysql"], var.engine)
    error_message = "engine must be postgres or mysql."
  }
}

variable "engine_version" {
  description = "Engine version (e.g. 16.4 for postgres, 8.0.39 for mysql)."
  type        = string
}

variable "parameter_group_family" {
  description = "Parameter group family matching the version (e.g. postgres16, mysql8.0)."
  type        = string
}

variable "instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 50
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "master_username" {
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS (never in the state)."
  type        = string
  default     = "paas_admin"
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (at least two availability zones)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instance (rds: reachable from the Mesos agents only)."
  type        = list(string)
}

variable "multi_az" {
  description = "Run a synchronous standby in another availability zone."
  type        = bool
  default     = true
}

variable "backup_retention_period" {
  description = "Days of automated backups and point-in-time recovery (1-35; backups cannot be turned off)."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_period >= 1 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 1 and 35 days: backups stay on."
  }
}

variable "backup_window" {
  description = "Daily backup window (UTC)."
  type        = string
  default     = "03:00-04:00"
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC)."
  type        = string
  default     = "sun:04:30-sun:05:30"
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (turn off deliberately before a destroy)."
  type        = bool
  default     = true
}

variable "kms_key_id" {
  description = "KMS key ARN for storage encryption (null: the AWS managed key for RDS)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

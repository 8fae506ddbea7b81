# Shared RDS database (PostgreSQL or MySQL) for the apps (WordPress on MySQL, Discourse on
# PostgreSQL): private, encrypted, TLS required, automated backups, deletion protection,
# master password managed by RDS in Secrets Manager. Apps get their own users, e.g. from
# Vault's database secrets engine.

locals {
  tls_parameter = var.engine == "postgres" ? { name = "rds.force_ssl", value = "1" } : { name = "require_secure_transport", value = "ON" }
  log_exports   = var.engine == "postgres" ? ["postgresql", "upgrade"] : ["error", "slowquery"]
}

resource "aws_db_subnet_group" "this" {
  name       = var.identifier
  subnet_ids = var.subnet_ids

  tags = var.tags
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.identifier}-"
  family      = var.parameter_group_family

  parameter {
    name  = local.tls_parameter.name
    value = local.tls_parameter.value
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  identifier     = var.identifier
  engine         = var.engine
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_id

  username                            = var.master_username
  manage_master_user_password         = true
  iam_database_authentication_enabled = true

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = var.security_group_ids
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az

  backup_retention_period   = var.backup_retention_period
  backup_window             = var.backup_window
  maintenance_window        = var.maintenance_window
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.identifier}-final"

  auto_minor_version_upgrade      = true
  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = local.log_exports

  tags = var.tags
}

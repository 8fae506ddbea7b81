output "endpoint" {
  description = "Host:port of the database (e.g. WORDPRESS_DB_HOST)."
  value       = aws_db_instance.this.endpoint
}

output "address" {
  description = "Host name of the database."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the database."
  value       = aws_db_instance.this.port
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the master credentials (managed by RDS)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

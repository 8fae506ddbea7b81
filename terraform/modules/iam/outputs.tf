output "instance_profile_names" {
  description = "Instance profile name per kind of instance (masters, agents, consul, bastion, jenkins)."
  value       = { for k, p in aws_iam_instance_profile.this : k => p.name }
}

output "role_arns" {
  description = "IAM role ARN per kind of instance."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

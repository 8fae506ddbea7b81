output "dns_name" {
  description = "DNS name of the load balancer: point *.<cluster>.<base_domain> and custom domains at it (CNAME or alias)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 zone ID of the load balancer (for alias records)."
  value       = aws_lb.this.zone_id
}

output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

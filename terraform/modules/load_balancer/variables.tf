variable "name" {
  description = "Name of the load balancer (at most 32 characters, e.g. paas-production)."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC of the targets."
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets the load balancer listens in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the load balancer (lb: 80/443 and the TCP app ports from the internet)."
  type        = list(string)
}

variable "target_instance_ids" {
  description = "Master instances running HAProxy."
  type        = list(string)
}

variable "tcp_app_ports" {
  description = "TCP app ports forwarded as-is to HAProxy (Marathon label router.port), 10000-10999."
  type        = list(number)
  default     = []

  validation {
    condition     = alltrue([for p in var.tcp_app_ports : p >= 10000 && p <= 10999])
    error_message = "TCP app ports must be in 10000-10999 (the router.port range)."
  }
}

variable "proxy_protocol_v2" {
  description = "Send the PROXY protocol v2 header to HAProxy, so it sees the real client address. Must agree with paas-router's haproxy.accept_proxy (ansible: paas_router_haproxy_accept_proxy, also true by default)."
  type        = bool
  default     = true
}

variable "enable_deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

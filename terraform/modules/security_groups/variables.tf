variable "name" {
  description = "Name prefix of the security groups (e.g. paas-production)."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC the security groups belong to."
  type        = string
}

variable "admin_cidr_blocks" {
  description = "Networks allowed to SSH to the bastion (office or operator addresses). Never 0.0.0.0/0: SSH is not public (OpenVPN is, see openvpn_port)."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidr_blocks) > 0 && alltrue([for c in var.admin_cidr_blocks : can(cidrhost(c, 0)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "admin_cidr_blocks must list valid CIDR blocks, none of them 0.0.0.0/0 or ::/0."
  }
}

variable "openvpn_port" {
  description = "UDP port of the OpenVPN server on the bastion (open to the internet, certificate-authenticated)."
  type        = number
  default     = 1194
}

variable "tcp_app_ports" {
  description = "Public TCP ports of TCP apps (Marathon label router.port, e.g. 10001), forwarded by the load balancer to HAProxy on the masters. Limited to 10000-10999."
  type        = list(number)
  default     = []

  validation {
    condition     = alltrue([for p in var.tcp_app_ports : p >= 10000 && p <= 10999])
    error_message = "TCP app ports must be in 10000-10999 (the router.port range)."
  }
}

variable "mesos_task_port_range" {
  description = "Host port range Mesos agents offer to tasks (agent resource ports); HAProxy on the masters reaches the tasks there."
  type        = object({ from = number, to = number })
  default     = { from = 31000, to = 32000 }
}

variable "peer_cidr_blocks" {
  description = "Private subnets of a peered environment (staging) whose Consul agents join this environment's Consul servers and whose Mesos agents use its RDS databases. Empty when nothing is peered."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.peer_cidr_blocks : can(cidrhost(c, 0)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "peer_cidr_blocks must be private CIDR blocks, never 0.0.0.0/0."
  }
}

variable "consul_servers_enabled" {
  description = "Whether this environment runs the Consul servers (production). Staging joins the production servers over the peering instead."
  type        = bool
  default     = true
}

variable "rds_enabled" {
  description = "Whether this environment runs the shared RDS databases (production)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

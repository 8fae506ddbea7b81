variable "name" {
  description = "Name of the bastion instance (e.g. paas-production-bastion)."
  type        = string
}

variable "ami_id" {
  description = "AMI of the bastion (Debian 12)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "t3.small"
}

variable "subnet_id" {
  description = "Public subnet of the bastion."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups of the bastion (bastion and consul_agent)."
  type        = list(string)
}

variable "iam_instance_profile" {
  description = "Instance profile name of the bastion."
  type        = string
}

variable "key_name" {
  description = "EC2 key pair for the admin SSH key (null: rely on Session Manager and cloud-init users)."
  type        = string
  default     = null
}

variable "vpc_cidr_block" {
  description = "CIDR block of the VPC, pushed to VPN clients as a route."
  type        = string
}

variable "extra_vpn_routes" {
  description = "Other networks pushed to VPN clients (e.g. the peered production VPC)."
  type        = list(string)
  default     = []
}

variable "vpn_client_cidr" {
  description = "Address pool of the VPN clients (NATed to the bastion's address inside the VPC)."
  type        = string
  default     = "10.250.0.0/24"
}

variable "openvpn_port" {
  description = "UDP port of the OpenVPN server."
  type        = number
  default     = 1194
}

variable "root_volume_size" {
  description = "Size of the encrypted root volume in GiB."
  type        = number
  default     = 20
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

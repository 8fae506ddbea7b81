variable "name" {
  description = "Name of the peering connection (e.g. paas-staging-to-production)."
  type        = string
}

variable "requester_vpc_id" {
  description = "VPC that requests the peering (staging)."
  type        = string
}

variable "requester_cidr_block" {
  description = "CIDR block of the requester VPC."
  type        = string
}

variable "requester_route_table_ids" {
  description = "Route tables of the requester that get a route to the accepter (private subnets)."
  type        = list(string)
}

variable "accepter_vpc_id" {
  description = "VPC that accepts the peering (production: Consul servers and RDS)."
  type        = string
}

variable "accepter_cidr_block" {
  description = "CIDR block of the accepter VPC."
  type        = string
}

variable "accepter_route_table_ids" {
  description = "Route tables of the accepter that get a route back to the requester (private subnets)."
  type        = list(string)
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

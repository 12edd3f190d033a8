variable "project_id" {
  description = "Project that hosts the VPC."
  type        = string
}

variable "name" {
  description = "Prefix for every network resource, e.g. bro-ai-prod."
  type        = string
}

variable "region" {
  description = "Region of the subnets, router and NAT."
  type        = string
}

variable "public_subnet_cidr" {
  description = "Primary range of the subnet that hosts the GKE nodes (nodes have no external IPs; egress goes through Cloud NAT)."
  type        = string
}

variable "private_subnet_cidr" {
  description = "Primary range of the subnet for internal services (internal load balancers, jump hosts, Private Service Connect)."
  type        = string
}

variable "pods_cidr" {
  description = "Secondary range of the public subnet used for GKE pods."
  type        = string
}

variable "services_cidr" {
  description = "Secondary range of the public subnet used for GKE services."
  type        = string
}

variable "private_service_access_cidr" {
  description = "Range reserved for private services access (Cloud SQL, Memorystore), in CIDR notation."
  type        = string
}

variable "gke_node_tag" {
  description = "Network tag carried by GKE nodes; health-check and IAP SSH rules target it."
  type        = string
}

variable "flow_log_sampling" {
  description = "Fraction of VPC flow log records kept (0-1)."
  type        = number
  default     = 0.5

  validation {
    condition     = var.flow_log_sampling > 0 && var.flow_log_sampling <= 1
    error_message = "flow_log_sampling must be in (0, 1]."
  }
}

variable "nat_min_ports_per_vm" {
  description = "Minimum NAT source ports per VM; dynamic port allocation grows it up to nat_max_ports_per_vm."
  type        = number
  default     = 64
}

variable "nat_max_ports_per_vm" {
  description = "Maximum NAT source ports per VM (many concurrent upstream LLM connections need headroom)."
  type        = number
  default     = 4096
}

variable "project_id" {
  description = "Project that hosts the zone."
  type        = string
}

variable "zone_name" {
  description = "Managed zone resource name."
  type        = string
}

variable "dns_name" {
  description = "Domain of the zone, with the trailing dot (e.g. stage.bro-ai.example.com.). Delegate it with the zone's name servers."
  type        = string

  validation {
    condition     = endswith(var.dns_name, ".")
    error_message = "dns_name must end with a dot."
  }
}

variable "a_records" {
  description = "A records: relative name (\"api\", \"assets\"; \"\" for the apex) => IPv4 addresses."
  type        = map(list(string))
  default     = {}
}

variable "caa_issuers" {
  description = "Certificate authorities allowed to issue for the zone (Google-managed certificates use pki.goog and letsencrypt.org)."
  type        = list(string)
  default     = ["pki.goog", "letsencrypt.org"]
}

variable "ttl" {
  description = "TTL of the records, in seconds."
  type        = number
  default     = 300
}

variable "labels" {
  description = "Labels on the zone."
  type        = map(string)
  default     = {}
}

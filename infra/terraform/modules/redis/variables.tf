variable "project_id" {
  description = "Project that hosts the instance."
  type        = string
}

variable "name" {
  description = "Instance name."
  type        = string
}

variable "region" {
  description = "Region; STANDARD_HA places the replica in another zone of it."
  type        = string
}

variable "memory_size_gb" {
  description = "Memory capacity in GB."
  type        = number
}

variable "redis_version" {
  description = "Redis major version."
  type        = string
  default     = "REDIS_7_0"
}

variable "network_id" {
  description = "VPC id the instance peers with."
  type        = string
}

variable "reserved_ip_range" {
  description = "Name of the private services access range the instance draws from."
  type        = string
}

variable "kms_key_id" {
  description = "CMEK for data at rest; the Memorystore service agent needs encrypter/decrypter on it."
  type        = string
}

variable "persistence" {
  description = "RDB snapshot period (ONE_HOUR, SIX_HOURS, TWELVE_HOURS, TWENTY_FOUR_HOURS) or null for no persistence. Sessions survive a full restart only with persistence."
  type        = string
  default     = "TWELVE_HOURS"
}

variable "maxmemory_policy" {
  description = "Eviction policy. volatile-lru evicts only keys with a TTL (cache entries, counters, sessions), never keys without one."
  type        = string
  default     = "volatile-lru"
}

variable "labels" {
  description = "Labels on the instance."
  type        = map(string)
  default     = {}
}

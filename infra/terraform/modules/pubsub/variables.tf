variable "project_id" {
  description = "Project that hosts the topics."
  type        = string
}

variable "project_number" {
  description = "Project number; the Pub/Sub service agent is service-NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com."
  type        = string
}

variable "region" {
  description = "Only region where messages are stored (message storage policy)."
  type        = string
}

variable "kms_key_id" {
  description = "CMEK for every topic; the Pub/Sub service agent needs encrypter/decrypter on it."
  type        = string
}

variable "topics" {
  description = "Topics by name, each with its publishers and its pull (or push) subscriptions and their subscribers (IAM members by stable label). Every subscription dead-letters to <topic>-dead-letter after max_delivery_attempts; the subscribers of a topic's subscriptions may also read its dead-letter subscription."
  type = map(object({
    message_retention = optional(string, "86400s")
    publishers        = optional(map(string), {})
    subscriptions = map(object({
      ack_deadline_seconds  = optional(number, 60)
      message_retention     = optional(string, "604800s")
      max_delivery_attempts = optional(number, 10)
      min_backoff           = optional(string, "10s")
      max_backoff           = optional(string, "600s")
      filter                = optional(string)
      push_endpoint         = optional(string)
      push_service_account  = optional(string)
      subscribers           = optional(map(string), {})
    }))
  }))

  validation {
    condition = alltrue(flatten([
      for t in values(var.topics) : [for s in values(t.subscriptions) : s.max_delivery_attempts >= 5 && s.max_delivery_attempts <= 100]
    ]))
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "labels" {
  description = "Labels on topics and subscriptions."
  type        = map(string)
  default     = {}
}

output "topic_ids" {
  description = "Topic ids by name."
  value       = { for k, t in google_pubsub_topic.this : k => t.id }
}

output "subscription_names" {
  description = "Subscription names (<topic>-<name>) by the same key."
  value       = { for k, s in google_pubsub_subscription.this : k => s.name }
}

output "dead_letter_topic_ids" {
  description = "Dead-letter topic ids by source topic."
  value       = { for k, t in google_pubsub_topic.dead_letter : k => t.id }
}

output "dead_letter_subscription_names" {
  description = "Dead-letter subscription names by source topic (alert on their backlog)."
  value       = { for k, s in google_pubsub_subscription.dead_letter : k => s.name }
}

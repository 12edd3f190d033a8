locals {
  service_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  subscriptions = merge([
    for topic, t in var.topics : {
      for name, s in t.subscriptions : "${topic}-${name}" => merge(s, { topic = topic })
    }
  ]...)

  publisher_grants = merge([
    for topic, t in var.topics : { for label, member in t.publishers : "${topic}/${label}" => { topic = topic, member = member } }
  ]...)

  subscriber_grants = merge([
    for sub, s in local.subscriptions : { for label, member in s.subscribers : "${sub}/${label}" => { subscription = sub, member = member } }
  ]...)

  dead_letter_reader_grants = merge([
    for sub, s in local.subscriptions : { for label, member in s.subscribers : "${s.topic}-dead-letter/${label}" => { topic = s.topic, member = member } }
  ]...)
}

resource "google_pubsub_topic" "this" {
  for_each = var.topics

  project                    = var.project_id
  name                       = each.key
  kms_key_name               = var.kms_key_id
  message_retention_duration = each.value.message_retention
  labels                     = var.labels

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = var.topics

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  kms_key_name               = var.kms_key_id
  message_retention_duration = "604800s"
  labels                     = var.labels

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
}

resource "google_pubsub_subscription" "this" {
  for_each = local.subscriptions

  project                    = var.project_id
  name                       = each.key
  topic                      = google_pubsub_topic.this[each.value.topic].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = each.value.message_retention
  filter                     = each.value.filter
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = each.value.min_backoff
    maximum_backoff = each.value.max_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.topic].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  dynamic "push_config" {
    for_each = each.value.push_endpoint == null ? [] : [each.value]
    content {
      push_endpoint = push_config.value.push_endpoint
      oidc_token {
        service_account_email = push_config.value.push_service_account
      }
    }
  }
}

# Keeps dead-lettered messages (a topic without a subscription drops them);
# operators inspect and replay from here.
resource "google_pubsub_subscription" "dead_letter" {
  for_each = var.topics

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"
  retain_acked_messages      = true
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards undeliverable messages: it publishes to
# the dead-letter topic and acknowledges on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = var.topics

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.subscriptions

  project      = var.project_id
  subscription = google_pubsub_subscription.this[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.service_agent
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = local.publisher_grants

  project = var.project_id
  topic   = google_pubsub_topic.this[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = each.value.member
}

resource "google_pubsub_subscription_iam_member" "subscribers" {
  for_each = local.subscriber_grants

  project      = var.project_id
  subscription = google_pubsub_subscription.this[each.value.subscription].name
  role         = "roles/pubsub.subscriber"
  member       = each.value.member
}

resource "google_pubsub_subscription_iam_member" "dead_letter_readers" {
  for_each = local.dead_letter_reader_grants

  project      = var.project_id
  subscription = google_pubsub_subscription.dead_letter[each.value.topic].name
  role         = "roles/pubsub.subscriber"
  member       = each.value.member
}

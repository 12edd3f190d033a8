locals {
  service_agent = "serviceAccount:service-${var.project_number}@gcp-sa-secretmanager.iam.gserviceaccount.com"

  accessor_grants = merge([
    for id, s in var.secrets : { for label, member in s.accessors : "${id}/${label}" => { secret = id, member = member } }
  ]...)
}

# Secret Manager publishes SECRET_ROTATE to this topic (created by the pubsub
# module, with its subscription and dead-letter topic); the rotation job in
# ops/ adds a new version and disables the old one.
resource "google_pubsub_topic_iam_member" "rotation_publisher" {
  project = var.project_id
  topic   = var.rotation_topic_id
  role    = "roles/pubsub.publisher"
  member  = local.service_agent
}

resource "google_secret_manager_secret" "this" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.key
  labels    = var.labels

  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = var.kms_key_id
        }
      }
    }
  }

  topics {
    name = var.rotation_topic_id
  }

  dynamic "rotation" {
    for_each = each.value.rotate ? [each.value.rotation_period] : []
    content {
      rotation_period    = rotation.value
      next_rotation_time = timeadd(timestamp(), rotation.value)
    }
  }

  lifecycle {
    # Secret Manager moves the next rotation time forward itself.
    ignore_changes = [rotation[0].next_rotation_time]
  }

  depends_on = [google_pubsub_topic_iam_member.rotation_publisher]
}

resource "google_secret_manager_secret_iam_member" "accessors" {
  for_each = local.accessor_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}

resource "google_dns_managed_zone" "this" {
  project     = var.project_id
  name        = var.zone_name
  dns_name    = var.dns_name
  description = "Bro AI public zone"
  visibility  = "public"
  labels      = var.labels

  dnssec_config {
    state         = "on"
    non_existence = "nsec3"
  }

  cloud_logging_config {
    enable_logging = true
  }
}

resource "google_dns_record_set" "a" {
  for_each = var.a_records

  project      = var.project_id
  managed_zone = google_dns_managed_zone.this.name
  name         = each.key == "" ? var.dns_name : "${each.key}.${var.dns_name}"
  type         = "A"
  ttl          = var.ttl
  rrdatas      = each.value
}

resource "google_dns_record_set" "caa" {
  project      = var.project_id
  managed_zone = google_dns_managed_zone.this.name
  name         = var.dns_name
  type         = "CAA"
  ttl          = 3600
  rrdatas      = [for ca in var.caa_issuers : "0 issue \"${ca}\""]
}

data "google_dns_keys" "this" {
  project      = var.project_id
  managed_zone = google_dns_managed_zone.this.id
}

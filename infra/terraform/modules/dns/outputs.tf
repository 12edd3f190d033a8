output "name_servers" {
  description = "Name servers to delegate the domain to."
  value       = google_dns_managed_zone.this.name_servers
}

output "zone_name" {
  description = "Managed zone name."
  value       = google_dns_managed_zone.this.name
}

output "ds_records" {
  description = "DS records to publish at the parent zone to complete the DNSSEC chain."
  value       = [for k in data.google_dns_keys.this.key_signing_keys : k.ds_record]
}

# Production: modules/platform with the stack document's prod sizes and
# CIDRs. Backend and provider are in versions.tf.
module "platform" {
  source = "../../modules/platform"

  environment          = "prod"
  kubernetes_namespace = "bro-ai-production"

  project_id                 = var.project_id
  region                     = var.region
  billing_account            = var.billing_account
  domain                     = var.domain
  alert_emails               = var.alert_emails
  master_authorized_networks = var.master_authorized_networks
  ci_principal_set           = var.ci_principal_set
  iap_accessors              = var.iap_accessors
  cdn_signed_requests        = var.cdn_signed_requests

  cidrs = {
    public_subnet          = "10.0.1.0/24"
    private_subnet         = "10.0.2.0/24"
    pods                   = "10.1.0.0/16"
    services               = "10.2.0.0/16"
    private_service_access = "10.0.16.0/20"
    gke_control_plane      = "10.0.3.0/28"
  }
  flow_log_sampling = 0.5

  gke = {
    node_locations = null # the region's default zones
    node_pools = {
      general = {
        machine_type = "e2-standard-2"
        min_nodes    = 2
        max_nodes    = 10
        disk_size_gb = 100
        disk_type    = "pd-ssd"
        spot         = false
      }
    }
  }

  cloudsql = {
    tier                     = "db-custom-2-4096"
    availability_type        = "REGIONAL"
    disk_type                = "PD_SSD"
    disk_size_gb             = 100
    disk_autoresize_limit_gb = 500
    backup_retention_count   = 30
    replica_region           = var.dr_region
  }

  redis = {
    memory_size_gb = 2
    persistence    = "TWELVE_HOURS"
  }

  backup_retention_days = 365
  log_retention_days    = 90
  budget_amount         = 1000
  deletion_protection   = true
}

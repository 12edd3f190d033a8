output "project_id" {
  description = "Project of the environment."
  value       = module.project.project_id
}

output "region" {
  description = "Primary region."
  value       = var.region
}

output "gke_cluster_name" {
  description = "GKE cluster (gcloud container clusters get-credentials NAME --region REGION)."
  value       = module.gke.cluster_name
}

output "kubernetes_namespace" {
  description = "Namespace whose ServiceAccounts are bound to the Google service accounts."
  value       = var.kubernetes_namespace
}

output "workload_identity_annotations" {
  description = "deploy/: KSA name => iam.gke.io/gcp-service-account annotation value."
  value       = module.iam.kubernetes_annotations
}

output "artifact_registry_url" {
  description = "Image prefix for deploy/ and CI."
  value       = module.artifact_registry.repository_url
}

output "binary_authorization_attestor" {
  description = "Attestor CI signs with (after build, Trivy and tests)."
  value       = module.binary_authorization.attestor_id
}

output "attestor_signing_key" {
  description = "KMS key CI signs attestations with."
  value       = module.kms.key_ids["attestor-signing"]
}

output "app_encryption_key" {
  description = "KMS key for application-level envelope encryption of conversation content."
  value       = module.kms.key_ids["app"]
}

output "cloudsql_connection_name" {
  description = "Cloud SQL connection name."
  value       = module.cloudsql.connection_name
}

output "cloudsql_private_ip" {
  description = "Private IP of Cloud SQL (DATABASE_URL host; sslmode=verify-full with cloudsql_server_ca)."
  value       = module.cloudsql.private_ip_address
}

output "cloudsql_dns_name" {
  description = "Host name matching Cloud SQL's server certificate."
  value       = module.cloudsql.dns_name
}

output "cloudsql_server_ca" {
  description = "Server CA PEM of Cloud SQL."
  value       = module.cloudsql.server_ca_cert
}

output "cloudsql_database" {
  description = "Application database name."
  value       = module.cloudsql.database_name
}

output "cloudsql_iam_users" {
  description = "PostgreSQL role names of the IAM database users."
  value       = module.cloudsql.iam_users
}

output "redis_host" {
  description = "Memorystore host (the bro-ai-redis-url secret holds rediss://:AUTH@HOST:PORT)."
  value       = module.redis.host
}

output "redis_port" {
  description = "Memorystore TLS port."
  value       = module.redis.port
}

output "redis_server_ca" {
  description = "PEM certificates to verify Memorystore's TLS."
  value       = module.redis.server_ca_certs
}

output "redis_instance_id" {
  description = "Memorystore instance id (gcloud redis instances get-auth-string)."
  value       = module.redis.instance_id
}

output "buckets" {
  description = "Bucket names: files (BRO_BLOB_URL), backups (ops/), static (CDN assets)."
  value       = module.storage.bucket_names
}

output "pubsub_topics" {
  description = "Topic ids by name."
  value       = module.pubsub.topic_ids
}

output "pubsub_subscriptions" {
  description = "Subscription names by key (<topic>-worker)."
  value       = module.pubsub.subscription_names
}

output "secret_ids" {
  description = "Secret Manager secret names for the SecretProviderClass."
  value       = module.secrets.secret_ids
}

output "ingress_static_ip_name" {
  description = "Ingress annotation kubernetes.io/ingress.global-static-ip-name."
  value       = module.edge.ingress_ip_name
}

output "ssl_policy_name" {
  description = "FrontendConfig spec.sslPolicy."
  value       = module.edge.ssl_policy_name
}

output "security_policy_name" {
  description = "BackendConfig spec.securityPolicy.name (Cloud Armor)."
  value       = module.edge.security_policy_name
}

output "api_host" {
  description = "Host of the API (ManagedCertificate domain, Ingress host)."
  value       = "api.${var.domain}"
}

output "dns_name_servers" {
  description = "Delegate the domain to these name servers."
  value       = module.dns.name_servers
}

output "dns_ds_records" {
  description = "DS records for the parent zone (DNSSEC)."
  value       = module.dns.ds_records
}

output "private_service_access_cidr" {
  description = "Range holding Cloud SQL's and Memorystore's private IPs, for NetworkPolicy egress rules."
  value       = module.network.private_service_access_cidr
}

output "platform" {
  description = "Everything deploy/ and CI read from this environment, one attribute per output of modules/platform (terraform output -json platform); see the README."
  value       = module.platform
}

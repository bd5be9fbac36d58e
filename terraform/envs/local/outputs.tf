output "pipeline" {
  description = "Names and ARNs of what the pipeline deployed (buckets, stream, endpoint, jobs, tables, workgroup, topic)."
  value       = module.pipeline
}

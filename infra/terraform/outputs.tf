output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "region" {
  description = "AWS region of the cluster."
  value       = var.region
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "kubeconfig_command" {
  description = "Adds the cluster to your kubeconfig."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "ecr_repository_url" {
  description = "Push the Runway image here and set it in deploy/overlays/eks/kustomization.yaml."
  value       = aws_ecr_repository.runway.repository_url
}

output "jobs_namespace" {
  description = "Namespace Runway runs jobs in (RUNWAY_NAMESPACE)."
  value       = kubernetes_namespace.jobs.metadata[0].name
}

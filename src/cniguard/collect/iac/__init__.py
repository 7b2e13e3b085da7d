"""Infrastructure-as-code collectors: Terraform, CloudFormation/CDK, eksctl, Kubernetes manifests."""

# Bastion: OpenVPN server (UDP, certificate authentication) and SSH jump host, with a fixed
# public address. VPN clients are NATed to the bastion's private address, so inside the VPC
# they show up as the bastion: security groups allow "from the bastion" for admin ports.
# The OpenVPN PKI (CA, server and client certificates) is created by the operators and
# copied to /etc/openvpn/server/ (see docs/deploy.md); cloud-init installs the packages and
# the server configuration.

resource "aws_instance" "this" {
  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = var.security_group_ids
  iam_instance_profile        = var.iam_instance_profile
  key_name                    = var.key_name
  associate_public_ip_address = false
  source_dest_check           = false

  user_data = templatefile("${path.module}/user-data.sh.tftpl", {
    vpn_client_cidr = var.vpn_client_cidr
    openvpn_port    = var.openvpn_port
    routes          = concat([var.vpc_cidr_block], var.extra_vpn_routes)
  })
  user_data_replace_on_change = false

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    encrypted             = true
    delete_on_termination = true
  }

  tags = merge(var.tags, { Name = var.name, Role = "bastion" })

  lifecycle {
    ignore_changes = [ami]
  }
}

resource "aws_eip" "this" {
  domain   = "vpc"
  instance = aws_instance.this.id

  tags = merge(var.tags, { Name = var.name })
}

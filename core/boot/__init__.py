"""Making disks boot: systemd-boot and GRUB installed rootless, and `diskwright run`."""

"""Software: Deep Compression, the packer and decoder, host tools and the command line."""

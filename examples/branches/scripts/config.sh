# config.sh: `config KEY` prints a scalar of the step's config ($WEFT_CONFIG,
# compact JSON); sourced by the ops of this example, which are POSIX shell.
config() {
  sed -n 's/.*"'"$1"'":\("[^"]*"\|[^,}]*\).*/\1/p' "$WEFT_CONFIG" | tr -d '"'
}

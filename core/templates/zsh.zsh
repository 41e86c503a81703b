# panechat: add to ~/.zshrc (after compinit)
eval "$('{{panechat}}' completions zsh)"

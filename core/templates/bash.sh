# panechat: add to ~/.bashrc
eval "$('{{panechat}}' completions bash)"

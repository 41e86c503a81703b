# panechat: add to ~/.config/fish/config.fish
'{{panechat}}' completions fish | source

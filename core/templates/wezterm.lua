# panechat init: not written yet

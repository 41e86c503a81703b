-- panechat for WezTerm: the pane's conversation in the status bar, a key to ask about the
-- active pane (the answer in a split next to it), a key to fork the conversation into a split,
-- a picker over every conversation, and the lock question as an overlay.
--
--   local panechat = wezterm.plugin.require 'https://github.com/panechat/panechat'
--   panechat.apply_to_config(config, { panechat = '/path/to/panechat' })
--
-- The status bar reads only the user vars panechat sets on each pane (panechat_title,
-- panechat_state, panechat_held): nothing is spawned per status tick. Keys and the overlay run
-- the panechat binary. Events emitted for your own handlers: panechat.ask, panechat.fork,
-- panechat.picked, panechat.question, panechat.answered, panechat.error.

local wezterm = require 'wezterm'
local act = wezterm.action

local M = {}

M.defaults = {
  -- The panechat binary (a path, or a name looked up on WezTerm's PATH).
  panechat = 'panechat',
  -- Where the segment goes: 'right', 'left', or false (use M.segment in your own handler).
  status = 'right',
  -- function(window, pane, segment) -> formatted string: combine the segment with your own
  -- status (segment is already a wezterm.format string, or '' when the pane has none).
  compose = false,
  -- The longest title shown, in characters.
  max_title = 40,
  -- Text around the segment.
  icon = 'panechat ',
  running = ' ●',
  locked = ' locked',
  separator = ' ',
  -- Colors (any wezterm color string); nil keeps the tab bar's colors.
  colors = {
    foreground = nil,
    background = nil,
    running = '#e0af68',
    locked = '#f7768e',
  },
  -- The ask key (a question about the active pane, its screen attached), and where the split
  -- with the answer goes.
  ask_key = { key = 'A', mods = 'CTRL|SHIFT' },
  ask_direction = 'Down',
  ask_size = { Percent = 50 },
  -- The fork key, the turns it keeps (false = all), and where the split goes.
  fork_key = { key = 'Y', mods = 'CTRL|SHIFT' },
  fork_last = false,
  fork_direction = 'Right',
  fork_size = { Percent = 50 },
  -- The picker key, and its extra rows per conversation.
  picker_key = { key = 'M', mods = 'CTRL|SHIFT' },
  picker_jump = true,
  picker_fork = true,
  -- Show the lock question (wait / new / fork / cancel) as an overlay.
  lock_overlay = true,
  -- Register a format-tab-title handler showing the conversation title (only the first such
  -- handler in a config takes effect).
  tab_title = false,
}

local opts
-- Formatted segments by user-var values: a tick with nothing new formats nothing.
local cache, cached = {}, 0

-- Control characters (C0, DEL and UTF-8 C1) removed, capped at n characters.
local function clean(s, n)
  if type(s) ~= 'string' then
    return ''
  end
  s = s:gsub('[%c\127]', ''):gsub('\194[\128-\159]', '')
  if not utf8.len(s) then
    -- Not UTF-8: keep the ASCII, mark the rest.
    s = s:gsub('[\128-\255]+', '?')
  end
  if n and utf8.len(s) > n then
    s = s:sub(1, utf8.offset(s, n) - 1) .. '…'
  end
  return s
end
M.clean = clean

local function merge(defaults, given)
  local out = {}
  for k, v in pairs(defaults) do
    if type(v) == 'table' and type(given[k]) == 'table' and k == 'colors' then
      out[k] = merge(v, given[k])
    elseif given[k] ~= nil then
      out[k] = given[k]
    else
      out[k] = v
    end
  end
  for k, v in pairs(given) do
    if out[k] == nil then
      out[k] = v
    end
  end
  return out
end

local function emit(name, ...)
  local ok, err = pcall(wezterm.emit, name, ...)
  if not ok then
    wezterm.log_error('panechat: handler of ' .. name .. ' failed: ' .. tostring(err))
  end
end

local function fail(window, what)
  wezterm.log_error('panechat: ' .. what)
  emit('panechat.error', window, what)
  if window then
    pcall(function()
      window:toast_notification('panechat', what, nil, 4000)
    end)
  end
end

-- Runs panechat synchronously (keys and prompts only, never per tick).
local function run(argv)
  local cmd = { opts.panechat }
  for _, a in ipairs(argv) do
    cmd[#cmd + 1] = a
  end
  local ok, success, stdout, stderr = pcall(wezterm.run_child_process, cmd)
  if not ok then
    return false, '', 'could not run ' .. opts.panechat .. ': ' .. tostring(success)
  end
  return success, stdout or '', stderr or ''
end

local function first_line(s)
  return clean((s or ''):match('^%s*([^\n]*)'), 200)
end

-- wezterm.json_parse (stable); nightly builds also have wezterm.serde.json_decode.
local function parse_json(text)
  local decode = (type(wezterm.serde) == 'table' and wezterm.serde.json_decode) or wezterm.json_parse
  local ok, v = pcall(decode, text)
  if ok then
    return v
  end
  return nil
end

-- The pane's state from its user vars.
local function vars_of(pane)
  local ok, vars = pcall(function()
    return pane:get_user_vars()
  end)
  if not ok or type(vars) ~= 'table' then
    return {}
  end
  return vars
end

local function conversation_id(vars)
  local id = vars.panechat_id
  if type(id) == 'string' and id:match('^[0-9a-z]+$') then
    return id
  end
  return nil
end

--- The status segment of a pane, as a wezterm.format string ('' when it has no conversation).
function M.segment(window, pane)
  local vars = vars_of(pane)
  local title = vars.panechat_title or ''
  local id = vars.panechat_id or ''
  local state = vars.panechat_state or ''
  local held = vars.panechat_held or ''
  local key = title .. '\0' .. id .. '\0' .. state .. '\0' .. held
  local hit = cache[key]
  if hit then
    return hit
  end
  cached = cached + 1
  if cached > 1024 then
    cache, cached = {}, 1
  end
  local shown = clean(title, opts.max_title)
  if shown == '' then
    shown = clean(id, opts.max_title)
  end
  if shown == '' then
    cache[key] = ''
    return ''
  end
  local c = opts.colors
  local items = {}
  if c.background then
    items[#items + 1] = { Background = { Color = c.background } }
  end
  if c.foreground then
    items[#items + 1] = { Foreground = { Color = c.foreground } }
  end
  items[#items + 1] = { Text = clean(opts.icon) .. shown }
  if state ~= '' and state ~= 'idle' then
    if c.running then
      items[#items + 1] = { Foreground = { Color = c.running } }
    end
    items[#items + 1] = { Text = clean(opts.running) }
  end
  if held ~= '' then
    if c.locked then
      items[#items + 1] = { Foreground = { Color = c.locked } }
    end
    items[#items + 1] = { Text = clean(opts.locked) }
  end
  items[#items + 1] = 'ResetAttributes'
  items[#items + 1] = { Text = clean(opts.separator) }
  local s = wezterm.format(items)
  cache[key] = s
  return s
end

local function update_status(window, pane)
  local seg = M.segment(window, pane)
  if opts.compose then
    local ok, s = pcall(opts.compose, window, pane, seg)
    if ok and type(s) == 'string' then
      seg = s
    end
  end
  if opts.status == 'left' then
    window:set_left_status(seg)
  elseif opts.status == 'right' then
    window:set_right_status(seg)
  end
end

-- Sets a pane's user vars at once (the core republishes them too), so the bar follows a
-- picker action without waiting for the pane's next command.
local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function base64(s)
  return ((s:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do
      r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0')
    end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then
      return ''
    end
    local c = 0
    for i = 1, 6 do
      c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0)
    end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#s % 3 + 1])
end
M.base64 = base64

local function set_vars(pane, vars)
  local out = {}
  for _, name in ipairs { 'panechat_id', 'panechat_title', 'panechat_state', 'panechat_held' } do
    if vars[name] ~= nil then
      out[#out + 1] = '\27]1337;SetUserVar=' .. name .. '=' .. base64(clean(vars[name])) .. '\7'
    end
  end
  pcall(function()
    pane:inject_output(table.concat(out))
  end)
end

local function state_vars(st)
  if type(st) ~= 'table' then
    return nil
  end
  local id = type(st.conversation) == 'string' and st.conversation or ''
  local title = type(st.title) == 'string' and st.title or ''
  local activity = type(st.activity) == 'string' and st.activity or 'idle'
  local held = ''
  if type(st.held_by) == 'table' then
    held = clean(tostring(st.held_by.multiplexer or '') .. ' pane ' .. tostring(st.held_by.pane or ''))
  end
  return { panechat_id = id, panechat_title = title, panechat_state = activity, panechat_held = held }
end

-- The ask key -------------------------------------------------------------------------------

local function percent_decode(s)
  return (s:gsub('%%(%x%x)', function(h)
    return string.char(tonumber(h, 16))
  end))
end

-- Whether a cwd URL's host is this machine (a shell on another host over ssh reports its own).
local function local_host(host)
  if host == nil or host == '' or host == 'localhost' then
    return true
  end
  local ok, me = pcall(wezterm.hostname)
  return ok and type(me) == 'string' and host:lower() == me:lower()
end

--- The pane's working directory as a local path, or nil when it is unknown, not a file URL, or
--- on another host. WezTerm 20240127 and later return a Url object (its file_path is decoded);
--- older ones a URI string.
function M.cwd_of(pane)
  local ok, url = pcall(function()
    return pane:get_current_working_dir()
  end)
  if not ok or url == nil then
    return nil
  end
  if type(url) == 'string' then
    local host, path = url:match('^file://([^/]*)(/[^?#]*)')
    return path and local_host(host) and percent_decode(path) or nil
  end
  local got, scheme, host, path = pcall(function()
    return url.scheme, url.host, url.file_path
  end)
  if got and scheme == 'file' and local_host(host) and type(path) == 'string' and path ~= '' then
    return path
  end
  return nil
end

--- The command the answer split runs: argv, never a shell, so the question is one argument
--- whatever it contains.
function M.ask_argv(pane_id, question)
  return { opts.panechat, 'q', '--session', 'pane:' .. tostring(pane_id), '--pane', '--hold', '--', question }
end

-- PromptInputLine's callback: line is nil on Esc/CTRL-C, '' on a bare Enter.
local function ask_entered(window, pane, line)
  if type(line) ~= 'string' or not line:find('%S') then
    return
  end
  emit('panechat.ask', window, pane, line)
  window:perform_action(
    act.SplitPane {
      direction = opts.ask_direction,
      size = opts.ask_size,
      command = { args = M.ask_argv(pane:pane_id(), line), cwd = M.cwd_of(pane) },
    },
    pane
  )
end
local ask_callback

--- Asks for a question about the active pane, then answers it in a split next to the pane,
--- continuing the pane's conversation with its screen attached.
function M.ask(window, pane)
  local title = clean(vars_of(pane).panechat_title, opts.max_title)
  local about = 'panechat: ask about pane ' .. tostring(pane:pane_id()) .. ' (its screen is attached'
  if title ~= '' then
    about = about .. ', continuing "' .. title .. '"'
  end
  ask_callback = ask_callback or wezterm.action_callback(ask_entered)
  window:perform_action(
    act.PromptInputLine {
      description = about .. ')   Enter: ask   Esc: cancel',
      action = ask_callback,
    },
    pane
  )
end

-- The fork key ------------------------------------------------------------------------------

local function fork_argv(id)
  local argv = { opts.panechat, 'fork', id }
  if opts.fork_last then
    argv[#argv + 1] = '--last'
    argv[#argv + 1] = tostring(math.tointeger(opts.fork_last) or opts.fork_last)
  end
  argv[#argv + 1] = '--exec-shell'
  return argv
end

local function fork_into_split(window, pane, id)
  local argv = fork_argv(id)
  emit('panechat.fork', window, pane, id)
  window:perform_action(
    act.SplitPane {
      direction = opts.fork_direction,
      size = opts.fork_size,
      command = { args = argv },
    },
    pane
  )
end

function M.fork(window, pane)
  local id = conversation_id(vars_of(pane))
  if not id then
    fail(window, 'this pane has no conversation yet: ask something with `panechat q` first')
    return
  end
  fork_into_split(window, pane, id)
end

-- The picker --------------------------------------------------------------------------------

local function ago(iso)
  if type(iso) ~= 'string' then
    return ''
  end
  local y, mo, d, h, mi, s = iso:match('^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)')
  if not y then
    return ''
  end
  local t = os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = s, isdst = false }
  local now = os.time(os.date('!*t'))
  local dt = math.max(0, now - t)
  if dt < 60 then
    return dt .. 's'
  elseif dt < 3600 then
    return (dt // 60) .. 'm'
  elseif dt < 86400 then
    return (dt // 3600) .. 'h'
  end
  return (dt // 86400) .. 'd'
end

-- WezTerm pane ids (numbers) of the panes that show a conversation.
local function wezterm_panes(c)
  local ids = {}
  if type(c.panes) == 'table' then
    for _, p in ipairs(c.panes) do
      if type(p) == 'table' and p.multiplexer == 'wezterm' and tostring(p.pane or ''):match('^%d+$') then
        ids[#ids + 1] = tonumber(p.pane)
      end
    end
  end
  return ids
end

--- The picker rows for `panechat ls --json` output (a list of {label, id}).
function M.choices(list, here)
  local rows = { { label = '+ new conversation', id = 'new' } }
  for _, c in ipairs(list) do
    if type(c) == 'table' and type(c.id) == 'string' and c.id:match('^[0-9a-z]+$') then
      local title = clean(type(c.title) == 'string' and c.title or '', opts.max_title)
      if title == '' then
        title = '(untitled)'
      end
      local turns = math.tointeger(tonumber(c.turns)) or 0
      local bits = { title, turns .. (turns == 1 and ' turn' or ' turns'), ago(c.updated_at) .. ' ago' }
      local panes = wezterm_panes(c)
      if #panes > 0 then
        local names = {}
        for _, p in ipairs(panes) do
          names[#names + 1] = tostring(p)
        end
        bits[#bits + 1] = 'pane ' .. table.concat(names, ',')
      end
      if type(c.activity) == 'string' and c.activity ~= 'idle' then
        bits[#bits + 1] = 'running'
      end
      if c.locked == true then
        bits[#bits + 1] = 'locked'
      end
      rows[#rows + 1] = { label = table.concat(bits, '  ·  '), id = 'use:' .. c.id }
      if opts.picker_jump then
        for _, p in ipairs(panes) do
          if p ~= here then
            rows[#rows + 1] = { label = '    ↳ jump to pane ' .. p .. '  ' .. title, id = 'jump:' .. p }
          end
        end
      end
      if opts.picker_fork then
        rows[#rows + 1] = { label = '    ↳ fork into a split  ' .. title, id = 'fork:' .. c.id }
      end
    end
  end
  return rows
end

local function picked(window, pane, id)
  if not id then
    return
  end
  local pane_id = pane:pane_id()
  local session = 'pane:' .. tostring(pane_id)
  local verb, arg = id:match('^(%a+):?(.*)$')
  emit('panechat.picked', window, pane, verb, arg)
  if verb == 'new' then
    local ok, out, err = run { 'new', '--session', session, '--json' }
    if not ok then
      return fail(window, 'panechat new failed: ' .. first_line(err))
    end
    set_vars(pane, state_vars(parse_json(out)) or { panechat_id = '', panechat_title = '' })
  elseif verb == 'use' and arg:match('^[0-9a-z]+$') then
    local ok, out, err = run { 'use', arg, '--session', session, '--json' }
    if not ok then
      return fail(window, 'panechat use failed: ' .. first_line(err))
    end
    local v = state_vars(parse_json(out))
    if v then
      set_vars(pane, v)
    end
  elseif verb == 'jump' and arg:match('^%d+$') then
    local ok, target = pcall(wezterm.mux.get_pane, tonumber(arg))
    if not ok or not target then
      return fail(window, 'pane ' .. arg .. ' is not open in this WezTerm')
    end
    target:activate()
  elseif verb == 'fork' and arg:match('^[0-9a-z]+$') then
    fork_into_split(window, pane, arg)
  end
end

function M.picker(window, pane)
  local ok, out, err = run { 'ls', '--json' }
  if not ok then
    return fail(window, 'panechat ls failed: ' .. first_line(err))
  end
  local list = parse_json(out)
  if type(list) ~= 'table' then
    return fail(window, 'panechat ls --json printed something that is not JSON')
  end
  window:perform_action(
    act.InputSelector {
      title = 'panechat: conversations',
      choices = M.choices(list, pane:pane_id()),
      fuzzy = true,
      description = 'Enter: use in this pane (↳ rows jump or fork)   /: filter   Esc: close',
      fuzzy_description = 'conversation: ',
      action = wezterm.action_callback(picked),
    },
    pane
  )
end

-- The lock question -------------------------------------------------------------------------

-- Tokens already shown: a question is asked once.
local asked = {}

local answers = {
  { id = 'wait', label = 'wait for it' },
  { id = 'new', label = 'start a new conversation' },
  { id = 'fork', label = 'fork it and continue in the copy' },
  { id = 'cancel', label = 'cancel' },
}

function M.question(window, pane, value)
  if type(value) ~= 'string' or value == '' then
    return
  end
  local q = parse_json(value)
  if type(q) ~= 'table' or type(q.token) ~= 'string' or not q.token:match('^%x+$') or #q.token ~= 32 then
    return fail(window, 'ignored a malformed lock question')
  end
  local token = q.token
  if asked[token] then
    return
  end
  asked[token] = true
  local title = clean(q.title, opts.max_title)
  local holder = clean(q.holder, 80)
  emit('panechat.question', window, pane, q)
  local choices = {}
  for _, a in ipairs(answers) do
    choices[#choices + 1] = { id = a.id, label = a.label }
  end
  window:perform_action(
    act.InputSelector {
      title = 'panechat: conversation locked',
      description = '"' .. title .. '" is held by ' .. holder .. '. What now?   Esc: cancel',
      choices = choices,
      alphabet = 'wnfc',
      action = wezterm.action_callback(function(w, p, id)
        local answer = id or 'cancel'
        pcall(wezterm.background_child_process, { opts.panechat, 'lock-answer', token, answer })
        emit('panechat.answered', w, p, answer)
      end),
    },
    pane
  )
end

local function user_var_changed(window, pane, name, value)
  if name == 'panechat_question' and opts.lock_overlay then
    M.question(window, pane, value)
  end
end

-- Tab titles --------------------------------------------------------------------------------

--- A tab title: the active pane's conversation title, else its own title.
function M.tab_title(tab)
  local p = tab.active_pane or {}
  local vars = p.user_vars or {}
  local t = clean(vars.panechat_title, opts.max_title)
  if t == '' then
    t = clean(p.title, opts.max_title)
  end
  return { { Text = ' ' .. t .. ' ' } }
end

-- Setup -------------------------------------------------------------------------------------

local function add_key(config, spec, action)
  if not spec then
    return
  end
  config.keys = config.keys or {}
  table.insert(config.keys, { key = spec.key, mods = spec.mods, action = action })
end

opts = merge(M.defaults, {})

local function check(o)
  local function bad(name, want)
    error('panechat.apply_to_config: option ' .. name .. ' must be ' .. want .. ', got ' .. tostring(o[name]), 3)
  end
  if o.status ~= 'right' and o.status ~= 'left' and o.status ~= false then
    bad('status', "'right', 'left' or false")
  end
  if o.fork_last and not (math.tointeger(o.fork_last) and o.fork_last > 0) then
    bad('fork_last', 'a positive whole number of turns or false')
  end
  local dirs = { Right = true, Left = true, Up = true, Down = true }
  for _, k in ipairs { 'fork_direction', 'ask_direction' } do
    if not dirs[o[k]] then
      bad(k, "'Right', 'Left', 'Up' or 'Down'")
    end
  end
  for _, k in ipairs { 'fork_size', 'ask_size' } do
    local v = o[k]
    local n = type(v) == 'table' and (v.Percent or v.Cells)
    if not (math.tointeger(n) and n > 0 and (v.Cells or n < 100)) then
      bad(k, '{ Percent = N } (1 to 99) or { Cells = N }')
    end
  end
  if o.compose and type(o.compose) ~= 'function' then
    bad('compose', 'a function(window, pane, segment) or false')
  end
  if type(o.panechat) ~= 'string' or o.panechat == '' then
    bad('panechat', 'the path of the panechat binary')
  end
  for _, k in ipairs { 'ask_key', 'fork_key', 'picker_key' } do
    if o[k] and (type(o[k]) ~= 'table' or type(o[k].key) ~= 'string') then
      bad(k, "a table such as { key = 'Y', mods = 'CTRL|SHIFT' }, or false")
    end
  end
end

function M.apply_to_config(config, given)
  opts = merge(M.defaults, given or {})
  check(opts)
  cache, cached = {}, 0
  M.opts = opts
  wezterm.on('update-status', update_status)
  wezterm.on('user-var-changed', user_var_changed)
  if opts.tab_title then
    wezterm.on('format-tab-title', function(tab)
      return M.tab_title(tab)
    end)
  end
  ask_callback = wezterm.action_callback(ask_entered)
  add_key(config, opts.fork_key, wezterm.action_callback(M.fork))
  add_key(config, opts.picker_key, wezterm.action_callback(M.picker))
  add_key(config, opts.ask_key, wezterm.action_callback(M.ask))
  return config
end

return M

-- panechat for WezTerm: the pane's conversation in the status bar, a key to ask about the
-- active pane (the answer in a split next to it), a key to fork the conversation into a split,
-- a picker over every conversation, and the lock question as an overlay.
--
--   local panechat = wezterm.plugin.require 'https://github.com/panechat/panechat'
--   panechat.apply_to_config(config, { panechat = '/path/to/panechat' })
--
-- The status bar reads only the user vars panechat sets on each pane (the conversation's title,
-- its state, its holder, the pane's coding agent): nothing is spawned per status tick. Keys and the overlay run
-- the panechat binary. Events emitted for your own handlers: panechat.ask, panechat.fork,
-- panechat.picked, panechat.question, panechat.answered, panechat.error.

local wezterm = require 'wezterm'
local act = wezterm.action

local M = {}

-- This file's build (a hash of the file with this line's value left out): the plugin asks
-- panechat whether it carries the same one, once, when the picker first opens.
local BUILD = '5f1e22634f0cb0d4'

M.defaults = {
  -- The panechat binary (a path, or a name looked up on WezTerm's PATH).
  panechat = 'panechat',
  -- Where the segment goes: 'right', 'left', or false (use M.segment in your own handler).
  status = 'right',
  -- function(window, pane, segment) -> formatted string: combine the segment with your own
  -- status (segment is already a wezterm.format string, or '' when the pane has none).
  compose = false,
  -- The longest title shown, in terminal cells (a wide CJK character takes two).
  max_title = 40,
  -- Text around the segment.
  icon = 'panechat ',
  running = ' ●',
  locked = ' locked',
  separator = ' ',
  -- Markers before a coding agent that needs you, or is done (a turn not looked at yet); the
  -- needs-you one also goes in front of the tab title of a tab where an agent needs you.
  needs_you = '⚑ ',
  done = '✓ ',
  -- Colors (any wezterm color string); nil keeps the tab bar's colors.
  colors = {
    foreground = nil,
    background = nil,
    running = '#e0af68',
    locked = '#f7768e',
    needs_you = '#f7768e',
    done = '#9ece6a',
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
  picker_key = { key = 'O', mods = 'CTRL|SHIFT' },
  picker_jump = true,
  picker_fork = true,
  -- The key that activates the next pane whose agent needs you (across tabs and windows).
  next_key = { key = 'J', mods = 'CTRL|SHIFT' },
  -- Focusing a pane whose agent is done makes it idle (`panechat agent-seen`, once per done).
  seen_on_focus = true,
  -- Show the lock question (wait / new / fork / cancel) as an overlay.
  lock_overlay = true,
  -- Register a format-tab-title handler showing the conversation title (only the first such
  -- handler in a config takes effect).
  tab_title = false,
}

local opts
-- Formatted segments by user-var values: a tick with nothing new formats nothing.
local cache, cached = {}, 0

-- Code points a terminal draws in two cells (East Asian Wide and Fullwidth, emoji) or in
-- none (combining marks, zero-width spaces and joiners, variation selectors).
local wide = {
  { 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x2329, 0x232A }, { 0x23E9, 0x23EC },
  { 0x2614, 0x2615 }, { 0x2E80, 0x303E }, { 0x3041, 0x33FF }, { 0x3400, 0x4DBF },
  { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF }, { 0xA960, 0xA97F }, { 0xAC00, 0xD7A3 },
  { 0xF900, 0xFAFF }, { 0xFE10, 0xFE19 }, { 0xFE30, 0xFE6F }, { 0xFF00, 0xFF60 },
  { 0xFFE0, 0xFFE6 }, { 0x1F300, 0x1F64F }, { 0x1F680, 0x1F6FF }, { 0x1F900, 0x1F9FF },
  { 0x20000, 0x2FFFD }, { 0x30000, 0x3FFFD },
}
local zero = { { 0x0300, 0x036F }, { 0x200B, 0x200F }, { 0x20D0, 0x20FF }, { 0xFE00, 0xFE0F } }
local function within(ranges, c)
  for _, r in ipairs(ranges) do
    if c < r[1] then
      return false
    elseif c <= r[2] then
      return true
    end
  end
  return false
end
local function cell_width(c)
  if c < 0x300 then
    return 1
  elseif within(zero, c) then
    return 0
  elseif within(wide, c) then
    return 2
  end
  return 1
end

--- How many terminal cells a (clean, UTF-8) string takes.
function M.cells(s)
  local n = 0
  for _, c in utf8.codes(s) do
    n = n + cell_width(c)
  end
  return n
end

-- Control characters (C0, DEL and UTF-8 C1) removed, capped at n cells (a longer string ends
-- in `…`).
local function clean(s, n)
  if type(s) ~= 'string' then
    return ''
  end
  s = s:gsub('[%c\127]', ''):gsub('\194[\128-\159]', '')
  if not utf8.len(s) then
    -- Not UTF-8: keep the ASCII, mark the rest.
    s = s:gsub('[\128-\255]+', '?')
  end
  if n and M.cells(s) > n then
    local used, cut = 0, 0
    for p, c in utf8.codes(s) do
      local w = cell_width(c)
      if used + w > n - 1 then
        cut = p
        break
      end
      used = used + w
    end
    s = s:sub(1, cut - 1) .. '…'
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

-- A pane's state from the user vars panechat sets on it (`user_vars` as WezTerm gives them):
-- the one place that names them. Values are as panechat wrote them, or nil.
local function state_from(user_vars)
  local v = type(user_vars) == 'table' and user_vars or {}
  return {
    id = v.panechat_id, title = v.panechat_title, state = v.panechat_state, held = v.panechat_held,
    agent = v.panechat_agent, agent_text = v.panechat_agent_text,
  }
end

-- The user var that carries the lock question to the overlay.
local QUESTION_VAR = 'panechat_question'

-- The pane's state from its user vars.
local function vars_of(pane)
  local ok, vars = pcall(function()
    return pane:get_user_vars()
  end)
  return state_from(ok and vars)
end

local function conversation_id(vars)
  local id = vars.id
  if type(id) == 'string' and id:match('^[0-9a-z]+$') then
    return id
  end
  return nil
end

-- Answer splits of the ask key: split pane id -> the pane it asks about.
local asks = {}

-- The pane whose state the bar shows for `pane`: itself, or for an answer split of the ask key
-- (which shows no conversation of its own), the pane it asks about, whose run it streams.
local function shown_for(pane)
  local ok, id = pcall(function()
    return pane:pane_id()
  end)
  local of = ok and asks[id]
  if of and (vars_of(pane).id or '') == '' then
    local found, p = pcall(wezterm.mux.get_pane, of)
    if found and p then
      return p
    end
  end
  return pane
end

--- The status segment of a pane, as a wezterm.format string ('' when it has no conversation).
--- For the ask key's answer split, the segment of the pane it asks about.
function M.segment(window, pane)
  local vars = vars_of(shown_for(pane))
  local title = vars.title or ''
  local id = vars.id or ''
  local state = vars.state or ''
  local held = vars.held or ''
  local agent, agent_text = vars.agent or '', clean(vars.agent_text, opts.max_title)
  local key = table.concat({ title, id, state, held, agent, agent_text }, '\0')
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
  if shown == '' and agent_text == '' then
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
  if agent_text ~= '' then
    -- The agent first: `⚑ claude: needs you`, `claude: running Bash`.
    local mark = M.agent_marker(agent)
    if mark ~= '' then
      local color = agent == 'needs-you' and c.needs_you or c.done
      if color then
        items[#items + 1] = { Foreground = { Color = color } }
      end
      items[#items + 1] = { Text = mark }
      items[#items + 1] = 'ResetAttributes'
      if c.background then
        items[#items + 1] = { Background = { Color = c.background } }
      end
      if c.foreground then
        items[#items + 1] = { Foreground = { Color = c.foreground } }
      end
    end
    items[#items + 1] = { Text = agent_text .. (shown ~= '' and clean(opts.separator) or '') }
    if shown == '' then
      items[#items + 1] = 'ResetAttributes'
      items[#items + 1] = { Text = clean(opts.separator) }
      local s = wezterm.format(items)
      cache[key] = s
      return s
    end
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

--- The marker shown before an agent in `state` (`needs-you`, `done`), or ''.
function M.agent_marker(state)
  if state == 'needs-you' then
    return clean(opts.needs_you)
  elseif state == 'done' then
    return clean(opts.done)
  end
  return ''
end

-- Panes whose agent was done when they were focused, and told so: pane id -> true, until the
-- agent's state changes (one `agent-seen` per done).
local seen_sent = {}

-- A focused pane whose agent is done: panechat makes it idle (once per done).
local function seen_on_focus(window, pane)
  local ok, id = pcall(function()
    return pane:pane_id()
  end)
  if not ok then
    return
  end
  if vars_of(pane).agent ~= 'done' then
    seen_sent[id] = nil
    return
  end
  local focused = true
  pcall(function()
    focused = window:is_focused()
  end)
  if not focused or seen_sent[id] then
    return
  end
  seen_sent[id] = true
  -- panechat prints the pane's new user vars: a pane it has no terminal recorded for (an agent
  -- run by hand in a pane that never asked anything) learns them this way.
  local ran, out = run { 'agent-seen', '--session', 'pane:' .. tostring(id), '--wezterm-vars' }
  if ran and out ~= '' and out:gsub('\27%]1337;SetUserVar=[%w_]+=[%w+/=]*\7', '') == '' then
    pcall(function()
      pane:inject_output(out)
    end)
  end
end

--- Every pane of every window in order (windows, their tabs, their panes) whose agent is in
--- `state`: a list of { pane, id, tab }.
function M.agent_panes(state)
  local out = {}
  local ok, windows = pcall(wezterm.mux.all_windows)
  for _, w in ipairs(ok and windows or {}) do
    for _, t in ipairs(w:tabs()) do
      for _, p in ipairs(t:panes()) do
        if state == nil or vars_of(p).agent == state then
          out[#out + 1] = { pane = p, id = p:pane_id(), tab = t }
        end
      end
    end
  end
  return out
end

--- The next-pane key: activates the next pane after `pane` (in the order of
--- `M.agent_panes`, wrapping around) whose agent needs you, its tab and its window too.
function M.next_needing_you(window, pane)
  local here = pane:pane_id()
  local all = M.agent_panes(nil)
  local at = #all
  for i, x in ipairs(all) do
    if x.id == here then
      at = i
    end
  end
  for k = 1, #all do
    local x = all[(at + k - 1) % #all + 1]
    if x.id ~= here and vars_of(x.pane).agent == 'needs-you' then
      x.pane:activate()
      pcall(function()
        x.tab:window():gui_window():focus()
      end)
      return x.id
    end
  end
  pcall(function()
    window:toast_notification('panechat', "no other pane's agent needs you", nil, 3000)
  end)
  return nil
end

local function update_status(window, pane)
  if opts.seen_on_focus then
    seen_on_focus(window, pane)
  end
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
-- picker action without waiting for the pane's next command. panechat prints the escape
-- sequences (`status --format wezterm`: the vars' names and base64 values are its own); only
-- `SetUserVar` sequences are injected.
local function show_state(window, pane, session)
  local ok, out, err = run { 'status', '--session', session, '--format', 'wezterm' }
  if not ok then
    return fail(window, 'panechat status failed: ' .. first_line(err))
  end
  if out:gsub('\27%]1337;SetUserVar=[%w_]+=[%w+/=]*\7', '') == '' then
    pcall(function()
      pane:inject_output(out)
    end)
  end
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

-- SplitPane's direction and size as pane:split takes them.
local split_directions = { Right = 'Right', Left = 'Left', Up = 'Top', Down = 'Bottom' }
local function split_size(size)
  return size.Percent and size.Percent / 100 or size.Cells
end

-- PromptInputLine's callback: line is nil on Esc/CTRL-C, '' on a bare Enter. The split is
-- made with pane:split, which gives its pane (SplitPane does not), so the bar can show the
-- asked pane's run while the split has the focus.
local function ask_entered(window, pane, line)
  if type(line) ~= 'string' or not line:find('%S') then
    return
  end
  emit('panechat.ask', window, pane, line)
  local ok, split = pcall(function()
    return pane:split {
      direction = split_directions[opts.ask_direction],
      size = split_size(opts.ask_size),
      args = M.ask_argv(pane:pane_id(), line),
      cwd = M.cwd_of(pane),
    }
  end)
  if not ok then
    return fail(window, 'could not open the answer split: ' .. first_line(tostring(split)))
  end
  asks[split:pane_id()] = pane:pane_id()
end
local ask_callback

--- Asks for a question about the active pane, then answers it in a split next to the pane,
--- continuing the pane's conversation with its screen attached.
function M.ask(window, pane)
  local title = clean(vars_of(pane).title, opts.max_title)
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

-- Whether pane `id` is open in this WezTerm (a closed pane has left the mux).
local function is_open(id)
  local ok, p = pcall(wezterm.mux.get_pane, id)
  return ok and p ~= nil
end

-- WezTerm pane ids (numbers) of the open panes that show a conversation; `closed` counts the
-- others.
local function wezterm_panes(c, closed)
  local ids = {}
  if type(c.panes) == 'table' then
    for _, p in ipairs(c.panes) do
      if type(p) == 'table' and p.multiplexer == 'wezterm' and tostring(p.pane or ''):match('^%d+$') then
        local id = math.tointeger(tonumber(p.pane))
        if id and is_open(id) then
          ids[#ids + 1] = id
        elseif closed then
          closed.n = closed.n + 1
        end
      end
    end
  end
  return ids
end

-- `s` padded with blanks to `n` cells.
local function pad(s, n)
  return s .. string.rep(' ', math.max(0, n - M.cells(s)))
end

--- How many leading characters tell the ids apart (as `panechat ls` and the tmux picker
--- show them): at least 8, at most 18.
function M.id_width(ids)
  local sorted = {}
  for i, id in ipairs(ids) do
    sorted[i] = id
  end
  table.sort(sorted)
  local n = 0
  for i = 2, #sorted do
    local a, b, k = sorted[i - 1], sorted[i], 0
    while k < #a and k < #b and a:byte(k + 1) == b:byte(k + 1) do
      k = k + 1
    end
    n = math.max(n, k + 1)
  end
  return math.max(8, math.min(18, n))
end

local function turns_text(n)
  return n .. (n == 1 and ' turn' or ' turns')
end

-- The columns of conversation rows: title, short id, turns, age, then what varies (panes,
-- running, locked, a snippet), so every column starts at the same cell in every row.
local function columns(list)
  local ids, tw = {}, 1
  for _, c in ipairs(list) do
    ids[#ids + 1] = c.id
    local t = clean(type(c.title) == 'string' and c.title or '', opts.max_title)
    tw = math.max(tw, M.cells(t ~= '' and t or '(untitled)'))
  end
  return { title = tw, id = M.id_width(ids) }
end

local function row_label(mark, c, cols, extras)
  local title = clean(type(c.title) == 'string' and c.title or '', opts.max_title)
  if title == '' then
    title = '(untitled)'
  end
  local turns = math.tointeger(tonumber(c.turns)) or 0
  local bits = {
    mark .. pad(title, cols.title),
    pad(c.id:sub(1, cols.id), cols.id),
    pad(turns_text(turns), 9),
    -- panechat says how long ago (`age`, as `ls` shows it).
    pad(clean(type(c.age) == 'string' and c.age or '', 5) .. ' ago', 8),
  }
  for _, e in ipairs(extras) do
    bits[#bits + 1] = e
  end
  return (table.concat(bits, '  '):gsub('%s+$', '')), title
end

local function is_conversation(c)
  return type(c) == 'table' and type(c.id) == 'string' and c.id:match('^[0-9a-z]+$') ~= nil
end

--- The picker rows for `panechat ls --json` output (a list of {label, id}), and how many
--- listed WezTerm panes are closed (they are left out). `here` is the pane the picker is for,
--- `own` its conversation: that row comes first, so Enter right away keeps it (WezTerm's
--- InputSelector opens on its first row and has no way to open on another). Then a new
--- conversation, the search inside conversations, and the others, most recent first. Rows show
--- the short id (forks with one title are told apart) in aligned columns. `agents` (pane id ->
--- { agent = state, text = summary }, as M.agent_vars gives them) puts each pane's coding
--- agent on its conversation's row, and a pane with an agent and no conversation on a row of
--- its own that jumps to it; rows whose agent needs you come first of all, then those done,
--- then those at work.
function M.choices(list, here, own, agents)
  agents = agents or {}
  local function rank(a)
    return a == nil and 3 or a.agent == 'needs-you' and 0 or a.agent == 'done' and 1 or a.agent == 'working' and 2 or 3
  end
  local function agent_label(a)
    return M.agent_marker(a.agent) .. clean(a.text, opts.max_title) .. ' · '
  end
  local closed = { n = 0 }
  local convs = {}
  for _, c in ipairs(list) do
    if is_conversation(c) then
      convs[#convs + 1] = c
    end
  end
  -- Without the pane's user var (set once panechat has published to it), the conversation
  -- `ls` maps to this pane.
  for _, c in ipairs(own and {} or convs) do
    for _, p in ipairs(type(c.panes) == 'table' and c.panes or {}) do
      if type(p) == 'table' and p.multiplexer == 'wezterm' and tostring(p.pane) == tostring(here) then
        own = own or c.id
      end
    end
  end
  local cols = columns(convs)
  local mine, rest, urgent = {}, {}, {}
  local with_conversation = {}
  local function add(rows, c)
    local panes = wezterm_panes(c, closed)
    local a
    for _, p in ipairs(panes) do
      with_conversation[p] = true
      if agents[p] and rank(agents[p]) < rank(a) then
        a = agents[p]
      end
    end
    if rank(a) == 0 then
      rows = urgent
    end
    local extras = {}
    if #panes > 0 then
      local names = {}
      for _, p in ipairs(panes) do
        names[#names + 1] = tostring(p)
      end
      extras[#extras + 1] = 'pane ' .. table.concat(names, ',')
    end
    if type(c.activity) == 'string' and c.activity ~= 'idle' then
      extras[#extras + 1] = 'running'
    end
    if c.locked == true then
      extras[#extras + 1] = 'locked'
    end
    -- The coding agent holding it (`claude`, `codex`), unless its pane's agent is shown.
    local held = type(c.agent) == 'table' and type(c.agent.backend) == 'string' and c.agent.backend or ''
    if held ~= '' and not (a and (a.text or '') ~= '') then
      extras[#extras + 1] = (held == 'claude-code' or held == 'claude') and 'claude' or clean(held, 24)
    end
    local label, title = row_label(c.id == own and '* ' or '  ', c, cols, extras)
    if a and (a.text or '') ~= '' then
      label = (c.id == own and '* ' or '  ') .. agent_label(a) .. label:sub(3)
    end
    rows[#rows + 1] = { label = label, id = 'use:' .. c.id, rank = rank(a) }
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
  for _, c in ipairs(convs) do
    add(c.id == own and mine or rest, c)
  end
  -- Panes with an agent and no conversation, by pane id.
  local lone = {}
  for p, a in pairs(agents) do
    if not with_conversation[p] and (a.text or '') ~= '' and is_open(p) then
      lone[#lone + 1] = p
    end
  end
  table.sort(lone)
  for _, p in ipairs(lone) do
    local a = agents[p]
    local row = { label = '  ' .. agent_label(a) .. 'pane ' .. p, id = 'jump:' .. p, rank = rank(a) }
    if row.rank == 0 then
      urgent[#urgent + 1] = row
    else
      rest[#rest + 1] = row
    end
  end
  -- The others: agents done, then at work, then the rest, each group most recent first (a
  -- conversation's extra rows stay under it).
  local groups = {}
  local group
  for _, r in ipairs(rest) do
    if r.rank then
      group = { rank = r.rank, i = #groups + 1, rows = {} }
      groups[#groups + 1] = group
    end
    table.insert(group.rows, r)
  end
  table.sort(groups, function(a, b)
    if a.rank ~= b.rank then
      return a.rank < b.rank
    end
    return a.i < b.i
  end)
  local rows = urgent
  for _, r in ipairs(mine) do
    rows[#rows + 1] = r
  end
  rows[#rows + 1] = { label = '+ new conversation', id = 'new' }
  rows[#rows + 1] = { label = '⌕ search inside conversations (what was said)…', id = 'search' }
  for _, g in ipairs(groups) do
    for _, r in ipairs(g.rows) do
      rows[#rows + 1] = r
    end
  end
  for _, r in ipairs(rows) do
    r.rank = nil
  end
  return rows, closed.n
end

--- Each pane's agent as its user vars say: pane id -> { agent = state, text = summary }.
function M.agent_vars()
  local out = {}
  for _, x in ipairs(M.agent_panes(nil)) do
    local v = vars_of(x.pane)
    if (v.agent or '') ~= '' then
      out[x.id] = { agent = v.agent, text = v.agent_text }
    end
  end
  return out
end

--- The rows for `panechat search --json` output and the words searched: a title equal to the
--- words first, then a title starting with them, then the rest in panechat's order (best
--- match first); each row with its short id and where the words were said.
function M.search_choices(hits, text)
  local want = text:lower():match('^%s*(.-)%s*$')
  local convs = {}
  for i, c in ipairs(hits) do
    if is_conversation(c) then
      local t = (type(c.title) == 'string' and c.title or ''):lower()
      local tier = t == want and 0 or (want ~= '' and t:sub(1, #want) == want) and 1 or 2
      convs[#convs + 1] = { c = c, tier = tier, i = i }
    end
  end
  table.sort(convs, function(a, b)
    if a.tier ~= b.tier then
      return a.tier < b.tier
    end
    return a.i < b.i
  end)
  local list = {}
  for i, x in ipairs(convs) do
    list[i] = x.c
  end
  local cols = columns(list)
  local rows = {}
  for _, c in ipairs(list) do
    local label = row_label('', c, cols, { clean(c.snippet, 60) })
    rows[#rows + 1] = { label = label, id = 'use:' .. c.id }
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
    local ok, _, err = run { 'new', '--session', session }
    if not ok then
      return fail(window, 'panechat new failed: ' .. first_line(err))
    end
    show_state(window, pane, session)
  elseif verb == 'use' and arg:match('^[0-9a-z]+$') then
    local ok, _, err = run { 'use', arg, '--session', session }
    if not ok then
      return fail(window, 'panechat use failed: ' .. first_line(err))
    end
    show_state(window, pane, session)
  elseif verb == 'jump' and arg:match('^%d+$') then
    local ok, target = pcall(wezterm.mux.get_pane, tonumber(arg))
    if not ok or not target then
      return fail(window, 'pane ' .. arg .. ' is not open in this WezTerm')
    end
    target:activate()
  elseif verb == 'fork' and arg:match('^[0-9a-z]+$') then
    fork_into_split(window, pane, arg)
  elseif verb == 'search' then
    M.search(window, pane)
  end
end
local picked_callback

-- PromptInputLine's callback for the search: one `panechat search` for the words entered,
-- its hits in a selector of their own (not fuzzy, so the order is the plugin's).
local function search_entered(window, pane, line)
  if type(line) ~= 'string' or not line:find('%S') then
    return
  end
  local ok, out, err = run { 'search', '--json', '-n', '500', '--', line }
  if not ok then
    return fail(window, 'panechat search failed: ' .. first_line(err))
  end
  local hits = parse_json(out)
  if type(hits) ~= 'table' then
    return fail(window, 'panechat search --json printed something that is not JSON')
  end
  local choices = M.search_choices(hits, line)
  local words = clean(line, 40)
  if #choices == 0 then
    return fail(window, 'no conversation mentions "' .. words .. '"')
  end
  picked_callback = picked_callback or wezterm.action_callback(picked)
  window:perform_action(
    act.InputSelector {
      title = 'panechat: search',
      choices = choices,
      description = #choices .. (#choices == 1 and ' conversation mentions "' or ' conversations mention "') .. words
        .. '", best first   Enter: use in this pane   /: filter   Esc: close',
      fuzzy_description = 'Enter: use in this pane   Esc: close   filter: ',
      action = picked_callback,
    },
    pane
  )
end
local search_callback

--- Asks for words, then lists the conversations where they were said (`panechat search`, run
--- once for the words entered: nothing runs per key typed).
function M.search(window, pane)
  search_callback = search_callback or wezterm.action_callback(search_entered)
  window:perform_action(
    act.PromptInputLine {
      description = 'panechat: search inside conversations for (every word, any case)   Enter: search   Esc: cancel',
      action = search_callback,
    },
    pane
  )
end

-- Says once (a notification) when this file is not the plugin the panechat binary carries:
-- after upgrading one of them, the two may not understand each other.
local build_checked = false
local function check_build(window)
  if build_checked then
    return
  end
  build_checked = true
  local ok, _, err = run { 'plugin-check', 'wezterm', BUILD }
  if ok then
    return
  end
  -- (any other failure is the next command's to report)
  local why = first_line(err)
  if why:find('unrecognized subcommand', 1, true) then
    fail(window, 'this WezTerm plugin is newer than panechat (' .. opts.panechat
      .. '): upgrade panechat, or load the plugin it carries (`panechat init wezterm --plugin FILE`)')
  elseif why:find('not the one this panechat carries', 1, true) then
    fail(window, why)
  end
end

function M.picker(window, pane)
  check_build(window)
  local ok, out, err = run { 'ls', '--json' }
  if not ok then
    return fail(window, 'panechat ls failed: ' .. first_line(err))
  end
  local list = parse_json(out)
  if type(list) ~= 'table' then
    return fail(window, 'panechat ls --json printed something that is not JSON')
  end
  local choices, closed = M.choices(list, pane:pane_id(), conversation_id(vars_of(pane)), M.agent_vars())
  picked_callback = picked_callback or wezterm.action_callback(picked)
  if closed > 0 then
    -- Forget the closed panes' mappings (their conversations stay).
    pcall(wezterm.background_child_process, { opts.panechat, 'sessions', '--prune' })
  end
  -- In fuzzy mode WezTerm shows fuzzy_description (and the filter) instead of description.
  window:perform_action(
    act.InputSelector {
      title = 'panechat: conversations',
      choices = choices,
      fuzzy = true,
      description = 'Enter: use in this pane (↳ rows jump or fork; ⌕ searches what was said)   Esc: close',
      fuzzy_description = 'Enter: use in this pane (↳ rows jump or fork; ⌕ searches what was said)   Esc: close   filter: ',
      action = picked_callback,
    },
    pane
  )
end

-- The lock question -------------------------------------------------------------------------
--
-- WezTerm opens an overlay in the window's active tab, over its active pane, whatever pane
-- perform_action is given: the asking pane is activated first (its tab too), so the overlay
-- covers the pane that asks. An overlay stays until it is answered or cancelled, and nothing
-- can close it from outside but a key sent to it: when the query withdraws its question (it
-- gave up waiting and asks in its own terminal, or it ended), the plugin sends Escape to the
-- overlay's pane, so it does not hide the question in the terminal; that Escape answers
-- nothing. An answer that no query waits for any more says so in a notification.

-- Questions shown, by token: { pane = asking pane id, overlay = the overlay's pane id,
-- window = the window, withdrawn = true once the query took it back, closing = true once the
-- plugin sent Escape to its overlay, done = true once answered }.
local shown = {}
-- The token of the question each pane shows.
local showing = {}

local answers = {
  { id = 'wait', label = 'wait for it' },
  { id = 'new', label = 'start a new conversation' },
  { id = 'fork', label = 'fork it and continue in the copy' },
  { id = 'cancel', label = 'cancel' },
}

-- The query took its question back: close its overlay if it is still up.
local function withdraw(token)
  local s = shown[token]
  if not s or s.withdrawn then
    return
  end
  s.withdrawn = true
  if showing[s.pane] == token then
    showing[s.pane] = nil
  end
  if s.overlay and not s.done then
    local ok, overlay = pcall(wezterm.mux.get_pane, s.overlay)
    if ok and overlay then
      s.closing = true
      pcall(function()
        s.window:perform_action(act.SendKey { key = 'Escape' }, overlay)
      end)
    end
  end
end

local function answered(token, w, p, id)
  local s = shown[token]
  if not s or s.done or (s.closing and id == nil) then
    -- (closed by the plugin: the query asks in its own terminal)
    return
  end
  s.done = true
  if showing[s.pane] == token then
    showing[s.pane] = nil
  end
  local answer = id or 'cancel'
  local ok, _, err = run { 'lock-answer', token, answer }
  if not ok then
    return fail(w, 'pane ' .. s.pane .. ' is no longer waiting for this answer: ' .. first_line(err))
  end
  emit('panechat.answered', w, p, answer)
end

function M.question(window, pane, value)
  local pane_id = pane:pane_id()
  if type(value) ~= 'string' or value == '' then
    if showing[pane_id] then
      withdraw(showing[pane_id])
    end
    return
  end
  local q = parse_json(value)
  if type(q) ~= 'table' or type(q.token) ~= 'string' or not q.token:match('^%x+$') or #q.token ~= 32 then
    return fail(window, 'ignored a malformed lock question')
  end
  local token = q.token
  if shown[token] then
    return
  end
  if showing[pane_id] then
    withdraw(showing[pane_id])
  end
  local title = clean(q.title, opts.max_title)
  local holder = clean(q.holder, 80)
  emit('panechat.question', window, pane, q)
  local choices = {}
  for _, a in ipairs(answers) do
    choices[#choices + 1] = { id = a.id, label = a.label }
  end
  shown[token] = { pane = pane_id, window = window }
  showing[pane_id] = token
  -- The overlay opens over the active pane of the window's active tab: make that this pane.
  pcall(function()
    pane:activate()
  end)
  window:perform_action(
    act.InputSelector {
      title = 'panechat: conversation locked',
      description = 'pane ' .. pane_id .. ' asks: "' .. title .. '" is held by ' .. holder .. '. What now?   Esc: cancel',
      choices = choices,
      alphabet = 'wnfc',
      action = wezterm.action_callback(function(w, p, id)
        answered(token, w, p, id)
      end),
    },
    pane
  )
  -- The overlay is the window's active pane now (a pane of its own in the mux).
  local ok, over = pcall(function()
    return window:active_pane():pane_id()
  end)
  if ok and over ~= pane_id then
    shown[token].overlay = over
  end
end

local function user_var_changed(window, pane, name, value)
  if name == QUESTION_VAR and opts.lock_overlay then
    M.question(window, pane, value)
  end
end

-- Tab titles --------------------------------------------------------------------------------

--- A tab title as WezTerm's own (tabbar.rs: "N: title", the index as
--- `show_tab_index_in_tab_bar` and `tab_and_split_indices_are_zero_based` say, padded in the
--- retro tab bar), showing the active pane's conversation title, else the tab's title, else
--- the pane's; at most `max_width` cells. Arguments as the `format-tab-title` event gives them.
function M.tab_title(tab, tabs, panes, config, hover, max_width)
  config = type(config) == 'table' and config or {}
  local p = tab.active_pane or {}
  local vars = state_from(p.user_vars)
  local t = clean(vars.title)
  if t == '' then
    t = clean(tab.tab_title)
  end
  if t == '' then
    t = clean(p.title)
  end
  -- The active pane's agent first; the tab marked while an agent in any of its panes needs you.
  local agent_text = clean(vars.agent_text)
  if agent_text ~= '' then
    t = agent_text .. (t ~= '' and ' · ' .. t or '')
  end
  local mark = M.agent_marker(vars.agent)
  if mark == '' then
    -- (this tab's panes only, up to the first that needs you: it runs at every redraw)
    local ok, mux_tab = pcall(wezterm.mux.get_tab, tab.tab_id)
    for _, q in ipairs(ok and mux_tab and mux_tab:panes() or {}) do
      if vars_of(q).agent == 'needs-you' then
        mark = M.agent_marker('needs-you')
        break
      end
    end
  end
  t = mark .. t
  local pad = config.use_fancy_tab_bar == false and ' ' or ''
  local index = ''
  if config.show_tab_index_in_tab_bar ~= false and math.tointeger(tab.tab_index) then
    index = (tab.tab_index + (config.tab_and_split_indices_are_zero_based and 0 or 1)) .. ': '
  end
  local room = opts.max_title
  if math.tointeger(max_width) then
    room = math.min(room, max_width - M.cells(pad .. index .. pad))
  end
  return { { Text = pad .. index .. clean(t, math.max(room, 1)) .. pad } }
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
  for _, k in ipairs { 'ask_key', 'fork_key', 'picker_key', 'next_key' } do
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
    wezterm.on('format-tab-title', function(tab, tabs, panes, config, hover, max_width)
      return M.tab_title(tab, tabs, panes, config, hover, max_width)
    end)
  end
  ask_callback = wezterm.action_callback(ask_entered)
  add_key(config, opts.fork_key, wezterm.action_callback(M.fork))
  add_key(config, opts.picker_key, wezterm.action_callback(M.picker))
  add_key(config, opts.ask_key, wezterm.action_callback(M.ask))
  add_key(config, opts.next_key, wezterm.action_callback(M.next_needing_you))
  return config
end

return M

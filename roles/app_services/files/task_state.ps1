# State of the services' scheduled tasks and, for those not running, which
# process (if any) listens on the service's port.
param(
    [Parameter(Mandatory)][string]$TaskPath,
    [Parameter(Mandatory)][string[]]$TaskNames,
    [Parameter(Mandatory)][int[]]$Ports,
    [Parameter(Mandatory)][string]$Address
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
$result = @{}
for ($i = 0; $i -lt $TaskNames.Count; $i++) {
    $task = Get-ScheduledTask -TaskPath $TaskPath -TaskName $TaskNames[$i] -ErrorAction SilentlyContinue
    $state = if ($task) { [string]$task.State } else { 'Missing' }
    $owner = $null
    if ($state -ne 'Running') {
        # A listener on the wildcard address takes the port on every address.
        $listener = Get-NetTCPConnection -State Listen -LocalPort $Ports[$i] -ErrorAction SilentlyContinue |
            Where-Object { $_.LocalAddress -in @($Address, '0.0.0.0', '::') } |
            Select-Object -First 1
        if ($listener) {
            $process = Get-Process -Id $listener.OwningProcess -ErrorAction SilentlyContinue
            $owner = '{0} (pid {1}) {2}' -f $process.ProcessName, $listener.OwningProcess, $process.Path
        }
    }
    $result[$TaskNames[$i]] = @{ state = $state; port_owner = $owner }
}
$Ansible.Result = $result

# Restarts a service's scheduled task. Ending the task ends its launcher only:
# the launcher's python children would go on holding the port, so the whole
# process tree of the launcher (recorded in its PID file) is ended first.
param(
    [Parameter(Mandatory)][string]$TaskPath,
    [Parameter(Mandatory)][string]$TaskName,
    [Parameter(Mandatory)][string]$Launcher,
    [Parameter(Mandatory)][string]$PidFile
)
$ErrorActionPreference = 'Stop'

if (Test-Path -LiteralPath $PidFile) {
    $launcherPid = [int](Get-Content -LiteralPath $PidFile -Raw)
    # A PID left from before a reboot may belong to another program by now.
    $process = Get-CimInstance -ClassName Win32_Process -Filter "ProcessId = $launcherPid"
    if ($process -and $process.CommandLine -and $process.CommandLine.Contains($Launcher)) {
        & taskkill.exe /PID $launcherPid /T /F | Out-Null
    }
}
Stop-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -ErrorAction SilentlyContinue
Start-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName
$Ansible.Changed = $true

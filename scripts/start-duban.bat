@echo off
rem duban on a Windows PC: double-click to start; colleagues open http://<this PC's IP>:8501
rem See docs/DEPLOY.md ("Windows 电脑"). Edit the two paths below once.
chcp 65001 >nul
cd /d "%~dp0\.."

rem Runtime data (database, documents, uploads, backups, logs): keep it outside the program folder.
if "%DUBAN_DATA_DIR%"=="" set "DUBAN_DATA_DIR=D:\duban-data"
rem Uncomment to use PostgreSQL instead of the SQLite file in DUBAN_DATA_DIR:
rem set "DUBAN_DATABASE_URL=postgresql+psycopg://duban:PASSWORD@192.168.1.10:5432/duban"

if not exist ".venv\Scripts\python.exe" (
    echo 首次运行：正在创建 Python 虚拟环境并安装依赖……
    py -3.11 -m venv .venv || goto :error
    ".venv\Scripts\python.exe" -m pip install -r requirements.txt || goto :error
)

".venv\Scripts\python.exe" -m duban init || goto :error
echo duban 已启动：本机打开 http://localhost:8501 ；关闭此窗口即停止服务。
".venv\Scripts\python.exe" -m streamlit run app.py --server.port 8501 --server.address 0.0.0.0
goto :eof

:error
echo 启动失败，请查看上面的错误信息（以及 %DUBAN_DATA_DIR%\logs\）。
pause
exit /b 1
